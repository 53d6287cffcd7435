"""The package's one C hash map (HMap, fastrace/_hashmap.pxd) against a
Python dict: random puts, get-or-inserts, lookups and deletions, with growth,
the extreme keys and keys made to collide, checking after each step that the
table's invariants hold (every entry reachable from its home slot, which is
what backward-shift deletion must keep).  The engine's id map around it (its
direct array part) is tested in tests/test_order.py; the analyses that use
it are compared with Go's in tests/test_summary.py, test_gc.py and
test_pprof.py."""

from __future__ import annotations

import random

import pytest

pytestmark = pytest.mark.unit

from fastrace._order import _hashmap_selftest

M64 = 2**64 - 1
EXTREMES = [0, 1, 2**63 - 1, 2**63, 2**64 - 2, 2**64 - 1]


def _hash(k: int) -> int:
    """The map's hash (half of MurmurHash3's finaliser), written again here
    to pick keys that collide; checked against the C one below."""
    k ^= k >> 33
    k = (k * 0xFF51AFD7ED558CCD) & M64
    return k ^ (k >> 33)


def _colliding(home: int, mask: int, count: int, start: int = 0) -> list[int]:
    """``count`` keys whose home slot is ``home`` in every table of up to
    mask + 1 slots."""
    out, k = [], start
    while len(out) < count:
        if _hash(k) & mask == home:
            out.append(k)
        k += 1
    return out


def _model(ops):
    """What each operation must return, from a dict."""
    ref: dict[int, int] = {}
    out = []
    for name, k, v in ops:
        if name == "put":
            ref[k] = v
            out.append(None)
        elif name == "slot":
            out.append(ref.setdefault(k, v))
        elif name == "get":
            out.append(ref.get(k))
        elif name == "del":
            out.append(ref.pop(k, None) is not None)
        elif name == "len":
            out.append(len(ref))
        elif name == "items":
            out.append(sorted(ref.items()))
        elif name in ("check", "cap"):
            out.append(None)           # cap: compared separately
        else:
            raise ValueError(name)
    return out


def _run(ops):
    got = _hashmap_selftest(ops)
    for i, (name, _, _) in enumerate(ops):
        if name == "items":
            got[i] = sorted(got[i])
    return got


def _random_ops(rng: random.Random, keys: list[int], n: int, check_every: int,
                p_del: float = 0.3) -> list[tuple[str, int, int]]:
    ops = []
    for step in range(n):
        k = rng.choice(keys)
        r = rng.random()
        v = rng.randrange(-2**63, 2**63)
        if r < 0.3:
            ops.append(("put", k, v))
        elif r < 0.45:
            ops.append(("slot", k, v))
        elif r < 0.45 + p_del:
            ops.append(("del", k, 0))
        else:
            ops.append(("get", k, 0))
        if step % check_every == 0:
            ops += [("check", 0, 0), ("len", 0, 0)]
    ops += [("check", 0, 0), ("len", 0, 0), ("items", 0, 0)]
    return ops


def test_hash_is_the_documented_one():
    keys = EXTREMES + list(range(100)) + [2**40 + 3, 0x123456789ABCDEF]
    got = _hashmap_selftest([("hash", k, 0) for k in keys])
    assert got == [_hash(k) for k in keys]


@pytest.mark.parametrize("seed", range(4))
def test_crowded_small_table_against_dict(seed):
    # Few keys, all with homes in the last two and first two slots of a
    # 64-slot table (and so of the 16- and 32-slot ones): long probe runs
    # that wrap around the end, where backward-shift deletion has to decide
    # cyclically which entries may move.  The table is checked after every
    # operation.
    keys = []
    for home in (62, 63, 0, 1):
        keys += _colliding(home, 63, 6, start=seed * 100_000)
    keys += EXTREMES
    rng = random.Random(seed)
    ops = _random_ops(rng, keys, 4000, check_every=1, p_del=0.35)
    assert _run(ops) == _model(ops)
    homes = _hashmap_selftest([("hash", k, 0) for k in keys[:24]])
    assert sorted({h & 63 for h in homes}) == [0, 1, 62, 63]


def test_same_home_in_every_size_against_dict():
    # 40 keys sharing one home slot in every table of up to 1024 slots, with
    # the extremes: one probe run that grows and shrinks through doublings.
    keys = _colliding(5, 1023, 40) + EXTREMES
    rng = random.Random(11)
    ops = []
    for k in keys:                      # fill first: the run is 46 long
        ops.append(("put", k, rng.randrange(2**63)))
    ops += [("check", 0, 0), ("items", 0, 0)]
    ops += _random_ops(rng, keys, 3000, check_every=7, p_del=0.4)
    assert _run(ops) == _model(ops)


def test_growth_and_deletes_against_dict():
    # Grows to tens of thousands of entries, from 16 slots up, with ids that
    # count up, thread-id-like numbers, keys differing only in high bits, and
    # the extremes; then deletes most and reinserts some.
    rng = random.Random(3)
    keys = (list(range(30_000)) + [rng.randrange(2**64) for _ in range(10_000)]
            + [i << 40 for i in range(2000)] + EXTREMES)
    ops = [("cap", 0, 0)]
    for k in keys:
        ops.append(("put", k, k & 0x7FFF_FFFF))
    ops += [("cap", 0, 0), ("check", 0, 0), ("len", 0, 0)]
    rng.shuffle(keys)
    for k in keys[:35_000]:
        ops.append(("del", k, 0))
    ops += [("check", 0, 0), ("len", 0, 0)]
    for k in keys[:3000]:
        ops.append(("slot", k, -1))
    ops += [("del", 12345678901, 0), ("get", 2**64 - 1, 0), ("get", 0, 0), ("get", 2**63, 0)]
    ops += [("check", 0, 0), ("items", 0, 0)]
    got = _run(ops)
    want = _model(ops)
    assert got[0] == 0                      # nothing allocated before the first put
    assert got[len(keys) + 1] == 2**17     # 42,000-odd entries, at most half full
    got[0] = got[len(keys) + 1] = None
    assert got == want


def test_get_or_insert_keeps_present_values():
    # hmap_slot inserts only an absent key, with the given value.
    ops = [("slot", 2**64 - 1, 7), ("slot", 2**64 - 1, 9), ("slot", 0, -1),
           ("put", 0, 4), ("slot", 0, -1), ("del", 0, 0), ("slot", 0, -1),
           ("del", 0, 0), ("del", 0, 0), ("len", 0, 0)]
    assert _hashmap_selftest(ops) == [7, 7, -1, None, 4, True, -1, True, False, 1]


def test_unknown_operation_is_refused():
    with pytest.raises(ValueError, match="unknown operation"):
        _hashmap_selftest([("pop", 1, 0)])
