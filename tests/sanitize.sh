#!/usr/bin/env bash
# Run the not-live test suite and the fuzz seed corpus against a sanitizer
# build of fastrace's extensions (FASTRACE_DEBUG=1: Cython bounds checks,
# wraparound, AddressSanitizer and UndefinedBehaviorSanitizer; see setup.py).
#
#   tests/sanitize.sh            # build (in a copy of the tree) and run everything
#   SANITIZE_DIR=/tmp/x tests/sanitize.sh     # where the copy lives (default /tmp/fastrace-sanitize)
#   SANITIZE_REUSE=1 tests/sanitize.sh        # rebuild only what changed since the last run
#   tests/sanitize.sh -k varint               # extra arguments go to pytest
#   SANITIZE_LIVE=1 tests/sanitize.sh         # the whole suite, live tests too (Go toolchains)
#   SANITIZE_CORPUS=DIR tests/sanitize.sh     # also replay a fuzz corpus (DIR/TARGET/*)
#
# The copy keeps the worktree's own in-place build untouched.  Python itself
# is not built with ASan, so the sanitizer runtimes are preloaded
# (LD_PRELOAD=libasan.so:libubsan.so of the compiler that built the
# extensions), and PYTHONMALLOC=malloc sends Python's small objects through
# malloc so that ASan sees them too.  Leak detection is off: the interpreter
# keeps memory at exit that is not fastrace's.  Reports go to log files
# (log_path); the script prints them and exits 1 when there is any, when a
# test fails, or when the fuzz seeds raise anything but a TraceError.
set -u -o pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
WORK=${SANITIZE_DIR:-/tmp/fastrace-sanitize}
TREE=$WORK/tree
LOGS=$WORK/logs
CC=${CC:-gcc}

# A copy of the tree without the worktree's own build products; an earlier
# sanitizer build (its .so files) survives only with SANITIZE_REUSE=1.
[ "${SANITIZE_REUSE:-0}" = 1 ] || rm -rf "$TREE"
mkdir -p "$TREE"
(cd "$SRC" && tar -cf - --exclude .git --exclude ./build --exclude '*.so' \
    --exclude './fastrace/*.c' --exclude './fastrace/*.html' --exclude __pycache__ \
    --exclude .pytest_cache --exclude ./tests/fuzz/corpus --exclude ./tests/fuzz/crashes .) \
    | (cd "$TREE" && tar -xf -) || exit 2

cd "$TREE" || exit 2
# Fresh .c files unless reusing: cythonize does not regenerate them when
# only the directives change.  With SANITIZE_REUSE=1 the build is
# incremental (the changed .pyx files only).
[ "${SANITIZE_REUSE:-0}" = 1 ] || rm -f fastrace/_varint.c fastrace/_order.c fastrace/_analysis.c
echo "sanitize: building with FASTRACE_DEBUG=1 in $TREE"
if ! FASTRACE_DEBUG=1 CC=$CC python setup.py build_ext --inplace -j 1 \
        --build-temp "$WORK/build-temp" --build-lib "$WORK/build-lib" \
        >"$WORK/build.log" 2>&1; then
    tail -30 "$WORK/build.log"
    echo "sanitize: build failed (log: $WORK/build.log)"
    exit 2
fi

ASAN_LIB=$($CC -print-file-name=libasan.so)
UBSAN_LIB=$($CC -print-file-name=libubsan.so)
for lib in "$ASAN_LIB" "$UBSAN_LIB"; do
    [ -e "$lib" ] || { echo "sanitize: $lib not found"; exit 2; }
done
if ! nm -D fastrace/_varint*.so | grep -q __asan_report; then
    echo "sanitize: fastrace/_varint is not built with ASan"
    exit 2
fi

rm -rf "$LOGS"
mkdir -p "$LOGS"
export LD_PRELOAD="$ASAN_LIB:$UBSAN_LIB"
export ASAN_OPTIONS="detect_leaks=0:log_path=$LOGS/asan:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1"
export UBSAN_OPTIONS="print_stacktrace=1:log_path=$LOGS/ubsan"
export PYTHONMALLOC=malloc
export PYTHONPATH="$TREE"
status=0

if [ "${SANITIZE_LIVE:-0}" = 1 ]; then
    # Everything, Go toolchains and live traces included.  Go's binaries are
    # static, so the preloaded runtimes reach only the Python processes (and
    # the C compiler cgo runs, which is not instrumented and reports nothing).
    echo "sanitize: python -m pytest $*"
    python -m pytest -q -p no:cacheprovider "$@" 2>&1 | tail -15
else
    # No toolchain downloads or Go programs: the not-live suite only.
    echo "sanitize: python -m pytest -m 'not live' $*"
    python -m pytest -q -m "not live" -p no:cacheprovider "$@" 2>&1 | tail -15
fi
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1

echo "sanitize: fuzz seeds (tests/fuzz/fuzz_trace.py all --replay)"
python tests/fuzz/fuzz_trace.py all --replay --corpus "$WORK/seeds" 2>&1 | tail -15
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1

if [ -n "${SANITIZE_CORPUS:-}" ]; then
    echo "sanitize: fuzz corpus $SANITIZE_CORPUS (every target's directory replayed)"
    python tests/fuzz/fuzz_trace.py all --replay --corpus "$SANITIZE_CORPUS" 2>&1 | tail -15
    [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
fi

unset LD_PRELOAD
reports=$(ls "$LOGS" 2>/dev/null)
if [ -n "$reports" ]; then
    echo "sanitize: sanitizer reports:"
    for f in "$LOGS"/*; do
        echo "== $f"
        head -60 "$f"
    done
    status=1
else
    echo "sanitize: no sanitizer report"
fi
[ $status -eq 0 ] && echo "sanitize: OK" || echo "sanitize: FAILED"
exit $status
