#!/usr/bin/env bash
# Validates the manifests in deploy/k8s offline (no cluster needed): schema
# check with the Kubernetes OpenAPI schemas bundled in the npm package
# kubernetes-models (installed once into $K8S_VALIDATE_DIR from the npm
# registry), plus cross-reference checks (validate.js).
# Usage: deploy/k8s/validate.sh   (needs node and npm)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=${K8S_VALIDATE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/inferd-k8s-validate}
command -v node >/dev/null && command -v npm >/dev/null || { echo "validate: needs node and npm (apt-get install nodejs npm)" >&2; exit 2; }
if [ ! -f "$dir/node_modules/kubernetes-models/package.json" ] || [ ! -f "$dir/node_modules/js-yaml/package.json" ]; then
  mkdir -p "$dir"
  [ -f "$dir/package.json" ] || echo '{"name":"inferd-k8s-validate","private":true}' > "$dir/package.json"
  (cd "$dir" && npm install --no-audit --no-fund --silent kubernetes-models@4.5.1 js-yaml@4) >&2
fi
NODE_PATH="$dir/node_modules" node "$here/validate.js" "$here"
