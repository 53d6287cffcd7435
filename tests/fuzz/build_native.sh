#!/usr/bin/env bash
# Build fastrace's extensions with libFuzzer's coverage instrumentation
# (clang -fsanitize=fuzzer-no-link: inline 8-bit edge counters, PC tables,
# comparison tracing) into a copy of the tree, so that the C code's
# branches guide atheris too.  gcc cannot do this (libFuzzer ignores its
# -fsanitize-coverage=trace-pc).  Needs clang (Debian: apt-get install clang-14).
#
#   tests/fuzz/build_native.sh [DIR]        # default /tmp/fastrace-fuzz-native
#   FASTRACE_FUZZ_NATIVE=DIR python tests/fuzz/fuzz_trace.py TARGET ...
set -eu -o pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
DIR=${1:-/tmp/fastrace-fuzz-native}
CLANG=${CLANG:-$(command -v clang || command -v clang-14)}
rm -rf "$DIR"
mkdir -p "$DIR"
(cd "$SRC" && tar -cf - --exclude .git --exclude ./build --exclude '*.so' \
    --exclude './fastrace/*.c' --exclude './fastrace/*.html' --exclude __pycache__ \
    setup.py pyproject.toml fastrace) | (cd "$DIR" && tar -xf -)
cd "$DIR"
CC=$CLANG CFLAGS="-fsanitize=fuzzer-no-link -g" LDFLAGS="-fsanitize=fuzzer-no-link" \
    python setup.py build_ext --inplace -j 1 --build-temp "$DIR/build-temp" \
    --build-lib "$DIR/build-lib" > "$DIR/build.log" 2>&1 || { tail -20 "$DIR/build.log"; exit 1; }
# Only the extensions are used from here; the Python modules are the worktree's.
find "$DIR/fastrace" -name '*.py' -delete
echo "instrumented build in $DIR: FASTRACE_FUZZ_NATIVE=$DIR python tests/fuzz/fuzz_trace.py TARGET"
