#!/usr/bin/env bash
# Builds and runs the server on a fresh Debian 12 machine:
#   scripts/serve.sh [inferd flags...]      e.g. scripts/serve.sh --port 8080
# Installs the packages, places the class index, exports the model (real
# ImageNet weights when they can be downloaded, else a seeded test model,
# which the server then says loudly), builds, and starts build/inferd with
# config.json; the binaries are in build-release/. Set WEIGHTS=pretrained|seeded|auto to choose.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/install-deps.sh build run
scripts/setup.sh --weights "${WEIGHTS:-auto}"
. scripts/lib/build.sh
# Its own tree: build/ belongs to scripts/test.sh (see scripts/lib/build.sh).
inferd_configure build-release Release OFF >/dev/null
cmake --build build-release -j "$(nproc)" --target inferd inferd-classify >/dev/null
exec build-release/inferd --config config.json "$@"
