"""fastrace's port of Go's unstable sort leaves ties exactly where Go's
slices.SortFunc leaves them (Go's reader uses it on CPU samples and on its
frontier of per-M cursors, so ties decide the order of events)."""

import random
import subprocess

import numpy as np
import pytest

from fastrace._order import go_sort_order

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("keys", [[], [5], [3, 1, 2], [1, 1, 1, 0, 0], list(range(20, 0, -1))])
def test_sorts(keys):
    order = go_sort_order(np.array(keys, dtype=np.int64))
    assert [keys[i] for i in order] == sorted(keys)


@pytest.mark.live
def test_ties_match_go():
    from tests import gotool

    rng = random.Random(2024)
    cases = []
    for n in list(range(0, 60)) + [100, 257, 1000, 5000]:
        for spread in (1, 3, 10, 10**6):
            cases.append([rng.randrange(spread) for _ in range(n)])
    cases.append(list(range(300)))                     # sorted
    cases.append(list(range(300, 0, -1)))              # reversed
    cases.append([i % 7 for i in range(500)])          # many duplicates
    cases.append(list(range(100)) + [0] * 50)          # nearly sorted
    binary = gotool.build_prog(gotool.REFERENCE, "gosort")
    inp = "".join(" ".join(map(str, c)) + "\n" for c in cases).encode()
    out = subprocess.run([str(binary)], input=inp, capture_output=True, check=True).stdout
    lines = out.decode().split("\n")[:-1]
    assert len(lines) == len(cases)
    for keys, line in zip(cases, lines):
        want = [int(x) for x in line.split()]
        got = go_sort_order(np.array(keys, dtype=np.int64)).tolist()
        assert got == want, (len(keys), keys[:20])
