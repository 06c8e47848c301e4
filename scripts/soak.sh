#!/usr/bin/env bash
# Soak and overload test of the real server (issue 4): tests/soak.py against
# build/inferd with the seeded test model. Too long for ctest by default
# (20000 requests at 16 connections); `--quick` (~1500 requests) is what CI runs.
#
#   scripts/soak.sh                 # full: 20000 requests, 64-client overload, SIGTERM under load
#   scripts/soak.sh --quick         # ~1500 requests
#   scripts/soak.sh --requests 50000 --concurrency 32 --max-seconds 7200
#
# Environment: BUILD (default build), PYTHON (default /usr/bin/python3),
# MODEL (default: the ctest model, else /tmp/m.pt, else exported to /tmp/itest.pt).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
PYTHON=${PYTHON:-/usr/bin/python3}
BINARY="$BUILD/inferd"
if [[ ! -x "$BINARY" ]]; then
    echo "soak.sh: $BINARY not found: build first (cmake --build $BUILD)" >&2
    exit 2
fi
MODEL=${MODEL:-}
if [[ -z "$MODEL" ]]; then
    for m in "$BUILD/test-model/densenet121-seeded0.pt" /tmp/m.pt /tmp/itest.pt; do
        if [[ -f "$m" ]]; then MODEL=$m; break; fi
    done
fi
if [[ -z "$MODEL" ]]; then
    MODEL=/tmp/itest.pt
    "$PYTHON" "$ROOT/scripts/export_model.py" --weights seeded --seed 0 --out "$MODEL"
fi
exec "$PYTHON" "$ROOT/tests/soak.py" --binary "$BINARY" --model "$MODEL" \
    --class-index "$ROOT/imagenet_class_index.json" "$@"
