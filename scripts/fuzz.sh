#!/usr/bin/env bash
# Builds the libFuzzer harnesses (clang, ASan+UBSan), replays every kept
# regression input, then fuzzes each harness for a bounded time.
#   scripts/fuzz.sh [SECONDS_PER_HARNESS]     (default 60; CI uses a short pass)
#   INFERD_FUZZ_HARNESSES="kserve" scripts/fuzz.sh 60   (only some harnesses)
# A crash is copied to fuzz/regressions/<harness>/ (commit it with the fix)
# and the script exits non-zero.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
seconds=${1:-60}
scripts/install-deps.sh test

. scripts/lib/build.sh
# The compiler is fixed per tree by its first configure: build-fuzz is clang's.
CC=clang CXX=clang++ inferd_configure build-fuzz RelWithDebInfo OFF -DINFERD_FUZZ=ON -DINFERD_SANITIZE=ON >/dev/null
# Every harness fuzz/CMakeLists.txt defines: the whole image path, raw HTTP,
# and each decoder alone, the v2 binary tensor data parser, model metadata and
# label files.
# INFERD_FUZZ_HARNESSES picks some of them.
read -r -a harnesses <<< "${INFERD_FUZZ_HARNESSES:-image http kserve model_files webp tiff heif bmp pnm}"
cmake --build build-fuzz -j "$(nproc)" --target "${harnesses[@]/#/fuzz_}" >/dev/null
/usr/bin/python3 fuzz/make_seeds.py build-fuzz/seeds >/dev/null

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS=suppressions=$root/fuzz/lsan-third-party.supp
status=0
for harness in "${harnesses[@]}"; do
  bin=build-fuzz/fuzz/fuzz_$harness
  regressions=(fuzz/regressions/$harness/*)
  inputs=()
  for f in "${regressions[@]}"; do [ -f "$f" ] && [ "$(basename "$f")" != .keep ] && inputs+=("$f"); done
  if [ ${#inputs[@]} -gt 0 ]; then
    echo "fuzz: replaying ${#inputs[@]} kept $harness regression input(s)"
    "$bin" "${inputs[@]}" 2>build-fuzz/replay-$harness.log || { echo "fuzz: REGRESSION in $harness"; tail -30 build-fuzz/replay-$harness.log; status=1; }
  fi
  mkdir -p build-fuzz/corpus/$harness build-fuzz/artifacts/$harness
  echo "fuzz: $harness for ${seconds}s"
  if ! "$bin" -max_total_time="$seconds" -max_len=65536 -timeout=30 -rss_limit_mb=3072 -print_final_stats=1 \
       -artifact_prefix=build-fuzz/artifacts/$harness/ build-fuzz/corpus/$harness build-fuzz/seeds/$harness \
       >build-fuzz/fuzz-$harness.log 2>&1; then
    status=1
    echo "fuzz: $harness FOUND A PROBLEM:"; grep -E "ERROR|SUMMARY|Test unit written" build-fuzz/fuzz-$harness.log | head -10
    cp build-fuzz/artifacts/$harness/* fuzz/regressions/$harness/ 2>/dev/null || true
  fi
  grep -E "^stat::(number_of_executed_units|average_exec_per_sec|new_units_added)" build-fuzz/fuzz-$harness.log | sed "s/^/fuzz: $harness /"
done
[ $status = 0 ] && echo "fuzz: no findings"
exit $status
