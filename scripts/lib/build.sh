# Sourced by the scripts that build inferd. Each script owns its build tree
# (test.sh: build/ and build-asan/, serve.sh: build-release/, run.sh --native:
# build-run/, bench.sh: build-bench/, fuzz.sh: build-fuzz/) and configures it
# with every option spelled out, so a value cached by an earlier configure
# of the same tree (say -DBUILD_TESTING=OFF) can never change what the
# script builds or tests. Later -D arguments override earlier ones.
#   inferd_configure DIR BUILD_TYPE BUILD_TESTING [extra cmake arguments...]
inferd_configure() {
  local dir=$1 build_type=$2 testing=$3
  shift 3
  cmake -S "$root" -B "$dir" -DCMAKE_BUILD_TYPE="$build_type" -DBUILD_TESTING="$testing" \
    -DINFERD_SANITIZE=OFF -DINFERD_FUZZ=OFF -DINFERD_JPEG=turbo -DINFERD_WERROR=ON "$@"
}

# The tests the suite defines, one name a line, as ctest lists them.
inferd_defined_tests() {
  ctest --test-dir "$1" -N "${@:2}" | sed -n 's/^ *Test *#[0-9]*: \(.*\)$/\1/p' | sort
}

# Fails unless DIR defines exactly the tests named in tests/suite.txt: a test
# that silently drops out of the suite (an option cached OFF, a missing
# include, a compiler-conditional block) fails the command that runs it.
inferd_check_suite() {
  local dir=$1 expected actual
  expected=$(grep -v '^#' "$root/tests/suite.txt" | sed '/^$/d' | sort)
  actual=$(inferd_defined_tests "$dir")
  if [ "$expected" != "$actual" ]; then
    echo "suite check: $dir does not define the suite of tests/suite.txt" >&2
    diff <(echo "$expected") <(echo "$actual") | sed -n 's/^</  missing: /p; s/^>/  not in tests\/suite.txt: /p' >&2
    return 1
  fi
  echo "suite check: $dir defines all $(echo "$expected" | wc -l) tests of tests/suite.txt" >&2
}

# Runs ctest in DIR and checks that it ran as many tests as DIR defines for
# the same selection (ctest exits 0 on an empty selection unless told not to).
#   inferd_run_ctest DIR [ctest selection/options...]
inferd_run_ctest() {
  local dir=$1 log want ran
  shift
  want=$(inferd_defined_tests "$dir" "$@" | wc -l)
  log=$(mktemp)
  local rc
  set +e
  ctest --test-dir "$dir" --output-on-failure --no-tests=error -j 1 "$@" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  set -e
  ran=$(sed -n 's/.*tests passed, [0-9]* tests\{0,1\} failed out of \([0-9]*\).*/\1/p' "$log" | tail -1)
  rm -f "$log"
  [ $rc = 0 ] || { echo "test.sh: ctest failed in $dir" >&2; return 1; }
  if [ -z "$ran" ] || [ "$ran" != "$want" ]; then
    echo "test.sh: ctest in $dir ran ${ran:-no} tests, the selection defines $want" >&2
    return 1
  fi
  echo "test.sh: ctest in $dir ran $ran of $want selected tests, all passed" >&2
}
