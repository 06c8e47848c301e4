#!/usr/bin/env bash
# The benchmark of issue 3, in one run: the bare model's limit, preprocessing
# alone (C vs PIL + torchvision), inferd under wrk load at 1/4/16 connections
# (throughput, p50/p99, errors, RSS, time to ready) and the original Flask
# server under gunicorn with the same load, then ratios with PASS/FAIL.
#   scripts/bench.sh [--quick] [--model M] [--precision fp32|bf16|int8|both|all] [--model-int8 M8] [--batching-sweep]
#                    [--image FILE] [--shared-dir DIR] [--duration S] [--no-baseline]
#                    [--threads T] [--model-instances N] [--max-batch B] [--batch-delay-us D] [--config FILE]
# int8 (issue 14) runs M8, the seeded model quantized by export_model.py
# --quantize int8 (exported when missing); each precision also gets its
# pipeline limit, CPUs / (forward CPU per image + non-model CPU per request).
# --overload [--overload-queue N] runs only the overload benchmark (issue 16:
# goodput at 16/64/256 connections, 503 latency, abandoning clients).
# Server settings come from ./config.json plus the flags above (given to both
# the server and model_bench). Prints a markdown report and writes it to
# bench-results/latest.md. Exits 0 even when a target fails; non-zero only
# when something broke (a server died, wrk or a tool failed).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
py=/usr/bin/python3

model=build/test-model/densenet121-seeded0.pt model_int8=build/test-model/densenet121-seeded0-int8.pt image="" pass=()
while [ $# -gt 0 ]; do
  case "$1" in
    --model) model=$2; shift 2 ;;
    --image) image=$2; shift 2 ;;
    --quick|--batching-sweep|--no-baseline|--overload) pass+=("$1"); shift ;;
    --precision|--duration|--shared-dir|--threads|--model-instances|--max-batch|--batch-delay-us|--http-threads|--config|--overload-queue)
      [ $# -ge 2 ] || { echo "bench.sh: $1 needs a value" >&2; exit 2; }
      pass+=("$1" "$2"); shift 2 ;;
    --model-int8) model_int8=$2; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "bench.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

scripts/install-deps.sh bench
scripts/setup.sh --class-index-only

if ! grep -q '^add_subdirectory(bench)' CMakeLists.txt; then
  echo "bench.sh: CMakeLists.txt does not add_subdirectory(bench) yet (bench/CMakeLists.txt defines the benchmark tools)" >&2
  exit 1
fi
# Release build of the server, the CLI and the benchmark tools. -Werror is off
# here: the benchmark measures, the test suite judges warnings.
. scripts/lib/build.sh
inferd_configure build-bench Release OFF -DINFERD_WERROR=OFF >/dev/null
cmake --build build-bench -j "$(nproc)" --target inferd inferd-classify model_bench preprocess_bench >/dev/null

# The seeded test model (speed does not depend on the weights).
if [ ! -s "$model" ]; then
  echo "bench.sh: exporting $model (seeded weights)" >&2
  mkdir -p "$(dirname "$model")"
  "$py" scripts/export_model.py --weights seeded --seed 0 --out "$model"
fi

# The int8 model, when a precision needs it: the same seeded weights quantized.
case " ${pass[*]-} " in
  *" --precision int8 "*|*" --precision all "*)
    if [ ! -s "$model_int8" ]; then
      echo "bench.sh: exporting $model_int8 (seeded weights, int8)" >&2
      mkdir -p "$(dirname "$model_int8")"
      "$py" scripts/export_model.py --weights seeded --seed 0 --quantize int8 --no-synthetic-check --out "$model_int8"
    fi ;;
esac

# The image: the shared dog photo, else the first photo in data/.
if [ -z "$image" ]; then
  if [ -f ../shared/data/dog.jpg ]; then
    image=../shared/data/dog.jpg
  else
    image=$(ls data/*.jpg 2>/dev/null | head -n 1 || true)
    [ -n "$image" ] || { echo "bench.sh: no image: ../shared/data/dog.jpg and data/*.jpg are missing" >&2; exit 1; }
    echo "bench.sh: ../shared/data/dog.jpg not found, using $image" >&2
  fi
fi

exec "$py" bench/bench.py --root "$root" --build build-bench --model "$model" --model-int8 "$model_int8" --image "$image" \
  --class-index imagenet_class_index.json ${pass[@]+"${pass[@]}"}
