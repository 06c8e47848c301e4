#!/usr/bin/env bash
# Builds and runs the server on a fresh Debian 12 machine:
#   scripts/serve.sh [inferd flags...]      e.g. scripts/serve.sh --port 8080
# Installs the packages, places the class index, exports the model (real
# ImageNet weights when they can be downloaded, else a seeded test model,
# which the server then says loudly), builds, and starts build/inferd with
# config.json. Set WEIGHTS=pretrained|seeded|auto to choose.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/install-deps.sh build run
scripts/setup.sh --weights "${WEIGHTS:-auto}"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
cmake --build build -j "$(nproc)" --target inferd inferd-classify >/dev/null
exec build/inferd --config config.json "$@"
