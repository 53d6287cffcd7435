"""Long differential run: read(workers=2) against read(workers=1) on damaged
multi-generation traces.  Not part of the test suite (minutes, not seconds);
the suite runs a short version of the same check (test_order.py,
test_two_workers_equal_one_on_damaged_traces).

    python -m tests.stress_parallel                 # 1000 variants of each committed "long" fixture
    python -m tests.stress_parallel -n 5000 --seed 3 [TRACE ...]

(from the repository root: it uses the helpers of the ``tests`` package).

Each variant flips a few bytes, overwrites a short range with random bytes,
or cuts the trace.  Both reads must give the same result: the same tables,
or the same error with the same partial tables.  Mismatching inputs are
written next to the working directory as ``stress-mismatch-*.trace``; the
exit status is the number of mismatches (0 = all equal).
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

if not __package__:   # run as a file: the repository root is not on the path
    sys.exit("run this from the repository root as: python -m tests.stress_parallel "
             + " ".join(sys.argv[1:]))

from fastrace import parallel as fastrace_parallel  # noqa: E402
from tests import FIXTURES  # noqa: E402
from tests.refcompare import read_outcome  # noqa: E402


def variant(data: bytes, rng: random.Random) -> bytes:
    b = bytearray(data)
    r = rng.random()
    if r < 0.7:
        for _ in range(rng.choice((1, 1, 2, 3, 8))):
            b[rng.randrange(16, len(b))] = rng.randrange(256)
    elif r < 0.85:
        at, n = rng.randrange(16, len(b) - 50), rng.randrange(1, 40)
        b[at:at + n] = bytes(rng.randrange(256) for _ in range(n))
    else:
        del b[rng.randrange(16, len(b)):]
    return bytes(b)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("traces", nargs="*", type=Path,
                    help="traces to damage (default: the committed long.trace fixtures)")
    ap.add_argument("-n", type=int, default=1000, help="variants per trace")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    paths = args.traces or sorted(FIXTURES.glob("*/long.trace"))
    bad = 0
    for path in paths:
        data = path.read_bytes()
        rng = random.Random(args.seed)
        for i in range(args.n):
            v = variant(data, rng)
            if read_outcome(v, 2) != read_outcome(v, 1):
                bad += 1
                out = Path(f"stress-mismatch-{args.seed}-{bad}.trace")
                out.write_bytes(v)
                print(f"MISMATCH {path} variant {i} -> {out}", flush=True)
        print(f"{path}: {args.n} variants", flush=True)
    print(f"mismatches: {bad}; second runs merged/ordered again: "
          f"{fastrace_parallel.PARALLEL_STATS}")
    return min(bad, 100)


if __name__ == "__main__":
    sys.exit(main())
