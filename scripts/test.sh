#!/usr/bin/env bash
# The whole test suite, from a fresh clone on Debian 12:
#   scripts/test.sh            install deps, build (-Werror), run every ctest test
#   scripts/test.sh --sanitize also build with ASan+UBSan and run the suite there
# Extra arguments after -- go to ctest (e.g. -- -R parity); the count check
# then holds the run to that selection.
# Each pass fails when its tree does not define every test of tests/suite.txt
# or when ctest runs fewer tests than it selected (an empty run is a failure).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
. scripts/lib/build.sh

sanitize=0 ctest_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --sanitize) sanitize=1; shift ;;
    --) shift; ctest_args=("$@"); break ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "test.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

scripts/install-deps.sh test
# Tests never need real weights: only the class index is set up here; the
# seeded test model is exported by the ctest fixture into the build folder.
scripts/setup.sh --class-index-only

jobs=$(nproc)
inferd_configure build RelWithDebInfo ON
inferd_check_suite build
cmake --build build -j "$jobs"
inferd_run_ctest build "${ctest_args[@]}"
# The browser page end to end in headless Chromium (installs chromium and
# playwright-core on first use).
scripts/browser-test.sh --binary build/inferd --model build/test-model/densenet121-seeded0.pt

if [ $sanitize = 1 ]; then
  inferd_configure build-asan Debug ON -DINFERD_SANITIZE=ON \
        -DINFERD_TEST_MODEL="$root/build/test-model/densenet121-seeded0.pt"
  inferd_check_suite build-asan
  cmake --build build-asan -j "$jobs"
  # libtorch itself is not built with ASan; its allocator and one-off
  # static allocations are not ours to judge, hence detect_leaks scoped by
  # the suppressions file. The soak (timing-bound) and valgrind tests are
  # not run twice, nor unit_util (glibc-malloc): it checks glibc's allocator
  # policy, and ASan brings an allocator of its own.
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
  LSAN_OPTIONS=suppressions=$root/tests/lsan.supp:print_suppressions=0 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    inferd_run_ctest build-asan -LE "soak|valgrind|glibc-malloc" "${ctest_args[@]}"
fi
echo "test.sh: every pass ran its whole selection and passed" >&2
