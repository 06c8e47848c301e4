#!/usr/bin/env bash
# Validates the KServe manifests in deploy/kserve offline (no cluster): the
# KServe CRD schema subset in crd-subset.json plus the Kubernetes container
# schemas of the npm package kubernetes-models, and inferd's own needs
# (validate.js). Shares deploy/k8s/validate.sh's npm cache directory.
# Usage: deploy/kserve/validate.sh   (needs node and npm)
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
