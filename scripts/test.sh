#!/usr/bin/env bash
# The whole test suite, from a fresh clone on Debian 12:
#   scripts/test.sh            install deps, build (-Werror), run every ctest test
#   scripts/test.sh --sanitize also build with ASan+UBSan and run the suite there
# Extra arguments after -- go to ctest (e.g. -- -R parity).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

sanitize=0 ctest_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --sanitize) sanitize=1; shift ;;
    --) shift; ctest_args=("$@"); break ;;
    -h|--help) sed -n '2,5p' "$0"; exit 0 ;;
    *) echo "test.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

scripts/install-deps.sh test
# Tests never need real weights: only the class index is set up here; the
# seeded test model is exported by the ctest fixture into the build folder.
scripts/setup.sh --class-index-only

jobs=$(nproc)
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j "$jobs"
ctest --test-dir build --output-on-failure -j 1 "${ctest_args[@]}"
# The browser page end to end in headless Chromium (installs chromium and
# playwright-core on first use).
scripts/browser-test.sh --binary build/inferd --model build/test-model/densenet121-seeded0.pt

if [ $sanitize = 1 ]; then
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DINFERD_SANITIZE=ON \
        -DINFERD_TEST_MODEL="$root/build/test-model/densenet121-seeded0.pt"
  cmake --build build-asan -j "$jobs"
  # libtorch itself is not built with ASan; its allocator and one-off
  # static allocations are not ours to judge, hence detect_leaks scoped by
  # the suppressions file.
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
  LSAN_OPTIONS=suppressions=$root/tests/lsan.supp:print_suppressions=0 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan --output-on-failure -j 1 -LE "soak|valgrind" "${ctest_args[@]}"
fi
