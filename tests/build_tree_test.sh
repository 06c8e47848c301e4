#!/usr/bin/env bash
# The README's two commands share a checkout: scripts/serve.sh once left
# build/ configured with BUILD_TESTING=OFF and scripts/test.sh then "passed"
# having run no test. This replays that order on a scratch tree, configure
# only (fast): a tree configured the old way must fail the suite check and
# an empty ctest run must fail; after test.sh's own configure the same tree
# must define the whole suite again.
#   tests/build_tree_test.sh SCRATCH_DIR
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/scripts/lib/build.sh"
scratch=${1:?usage: build_tree_test.sh SCRATCH_DIR}
rm -rf "$scratch"
passed=0 failed=0
check() { # check NAME COMMAND... : passes when COMMAND succeeds
  local name=$1; shift
  if "$@" >"$scratch.log" 2>&1; then passed=$((passed + 1)); echo "ok: $name"
  else failed=$((failed + 1)); echo "FAIL: $name"; sed 's/^/    /' "$scratch.log" | tail -15; fi
}
fails() { ! "$@"; }

check "configure the way serve.sh used to (BUILD_TESTING=OFF, Release)" \
  cmake -S "$root" -B "$scratch" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF
check "the suite check refuses that tree" fails inferd_check_suite "$scratch"
check "ctest --no-tests=error fails on it" \
  fails ctest --test-dir "$scratch" --no-tests=error
check "test.sh's configure of the same tree" inferd_configure "$scratch" RelWithDebInfo ON
check "the tree then defines every test of tests/suite.txt" inferd_check_suite "$scratch"
check "BUILD_TESTING is ON in its cache" grep -q '^BUILD_TESTING:BOOL=ON' "$scratch/CMakeCache.txt"
check "the build type is test.sh's" grep -q '^CMAKE_BUILD_TYPE:STRING=RelWithDebInfo' "$scratch/CMakeCache.txt"
rm -rf "$scratch" "$scratch.log"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
