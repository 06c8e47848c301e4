#!/usr/bin/env bash
# Prepares what inferd loads at start and the repository does not commit:
#   imagenet_class_index.json  copied from ../shared/data when present, else
#                              downloaded from its canonical public location;
#   models/densenet121.pt      exported by scripts/export_model.py.
# Usage: scripts/setup.sh [--weights auto|pretrained|seeded] [--seed N] [--force] [--class-index-only]
#   auto (default): pretrained ImageNet weights when they can be downloaded,
#   otherwise a seeded offline model, with a loud warning.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

weights=auto seed=0 force=0 class_index_only=0
while [ $# -gt 0 ]; do
  case "$1" in
    --class-index-only) class_index_only=1; shift ;;
    --weights) weights=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --force) force=1; shift ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "setup: unknown argument $1" >&2; exit 2 ;;
  esac
done
case "$weights" in auto|pretrained|seeded) ;; *) echo "setup: --weights must be auto, pretrained or seeded" >&2; exit 2 ;; esac

class_index_url=https://s3.amazonaws.com/deep-learning-models/image-models/imagenet_class_index.json
if [ ! -s imagenet_class_index.json ] || [ $force = 1 ]; then
  if [ -f ../shared/data/imagenet_class_index.json ]; then
    cp ../shared/data/imagenet_class_index.json imagenet_class_index.json
    echo "setup: class index copied from ../shared/data" >&2
  else
    curl -fsSL --retry 2 -o imagenet_class_index.json.tmp "$class_index_url"
    mv imagenet_class_index.json.tmp imagenet_class_index.json
    echo "setup: class index downloaded from $class_index_url" >&2
  fi
fi

[ $class_index_only = 1 ] && exit 0

py=/usr/bin/python3
model=models/densenet121.pt
current_kind() {
  [ -s "$model" ] || { echo none; return; }
  "$py" - "$model" <<'PY'
import json, sys, zipfile
try:
    with zipfile.ZipFile(sys.argv[1]) as z:
        name = next(n for n in z.namelist() if n.endswith("extra/inferd_meta.json"))
        print(json.loads(z.read(name)).get("weights", "unknown"))
except Exception:
    print("unknown")
PY
}
kind=$(current_kind)
want=$weights
if [ $force = 0 ] && { [ "$want" = "$kind" ] || { [ "$want" = auto ] && [ "$kind" != none ] && [ "$kind" != unknown ]; }; }; then
  echo "setup: $model already holds $kind weights" >&2
  exit 0
fi
mkdir -p models
if [ "$want" = pretrained ] || [ "$want" = auto ]; then
  if "$py" scripts/export_model.py --weights pretrained --out "$model"; then
    exit 0
  fi
  [ "$want" = pretrained ] && { echo "setup: could not get pretrained weights (no internet?)" >&2; exit 1; }
  echo "setup: WARNING: pretrained weights could not be downloaded; exporting a SEEDED TEST MODEL." >&2
  echo "setup: WARNING: its answers are deterministic but are NOT real ImageNet classifications." >&2
fi
"$py" scripts/export_model.py --weights seeded --seed "$seed" --out "$model"
