#!/usr/bin/env bash
# End-to-end test of the browser page (web/index.html) in headless Chromium.
#   scripts/browser-test.sh [--binary build/inferd] [--model M] [--image FILE] [--static-dir DIR]
# Installs what it needs (Debian chromium + chromium-driver, playwright-core
# from tests/browser/package-lock.json; never a downloaded browser), starts
# the server on a free loopback port, runs tests/browser/page.test.mjs with
# node's test runner, and stops the server whatever happens. Artifacts
# (screenshots, server log, TAP results) go to build/browser/.
# --static-dir serves the page from DIR (e.g. web/) instead of the copy
# embedded in the binary: for editing the page without rebuilding.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

binary=build/inferd
model=build/test-model/densenet121-seeded0.pt
image=""
static_dir=""
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) binary=$2; shift 2 ;;
    --model) model=$2; shift 2 ;;
    --image) image=$2; shift 2 ;;
    --static-dir) static_dir=$2; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "browser-test: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

say() { echo "browser-test: $*" >&2; }
sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)

# --- what the test needs -----------------------------------------------------
if [ ! -x /usr/bin/chromium ]; then
  say "installing Debian's chromium and chromium-driver"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq chromium chromium-driver >/dev/null
fi
command -v node >/dev/null || { say "node (20 or later) is needed"; exit 1; }
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] || { say "node $node_major is too old: playwright-core needs 20 or later"; exit 1; }

export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
( cd tests/browser
  npm ci --no-audit --no-fund --loglevel=error >/dev/null 2>&1 ||
    npm install --no-audit --no-fund --loglevel=error >/dev/null ) || { say "npm could not install playwright-core"; exit 1; }

[ -x "$binary" ] || { say "no server binary at $binary: build it first (scripts/test.sh, or cmake --build build --target inferd)"; exit 1; }
if [ ! -f "$model" ]; then
  say "exporting the seeded test model to $model"
  mkdir -p "$(dirname "$model")"
  /usr/bin/python3 scripts/export_model.py --weights seeded --seed 0 --out "$model"
fi
[ -f imagenet_class_index.json ] || scripts/setup.sh --class-index-only

if [ -z "$image" ]; then
  for f in "$root/../shared/data/dog.jpg" /work/shared/data/dog.jpg; do
    [ -f "$f" ] && { image=$f; break; }
  done
fi
[ -z "$image" ] || [ -f "$image" ] || { say "no image at $image"; exit 1; }

# --- the server, on a free loopback port, stopped whatever happens -----------
art="$root/build/browser"
mkdir -p "$art"
tmp=$(mktemp -d)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# An empty config file: the repository's config.json (port 5000, all
# interfaces, models/) must not leak in.
echo '{}' > "$tmp/config.json"
args=(--config "$tmp/config.json" --addr 127.0.0.1 --port 0 --model "$model"
      --class-index "$root/imagenet_class_index.json" --warmup 1)
[ -z "$static_dir" ] || args+=(--static-dir "$static_dir")
"$binary" "${args[@]}" >"$art/server.out" 2>"$art/server.log" &
server_pid=$!

port=""
for _ in $(seq 1 600); do
  port=$(sed -n 's/.*listening on 127\.0\.0\.1 port \([0-9][0-9]*\).*/\1/p' "$art/server.log" | head -n1)
  [ -n "$port" ] && break
  kill -0 "$server_pid" 2>/dev/null || { say "the server exited at start:"; cat "$art/server.log" >&2; exit 1; }
  sleep 0.1
done
[ -n "$port" ] || { say "the server never said where it listens:"; cat "$art/server.log" >&2; exit 1; }
url="http://127.0.0.1:$port"

node -e '
  const url = process.argv[1] + "/ready", end = Date.now() + 180000;
  (async () => {
    for (;;) {
      try { if ((await fetch(url)).status === 200) return; } catch {}
      if (Date.now() > end) { console.error("browser-test: " + url + " never answered 200"); process.exit(1); }
      await new Promise((r) => setTimeout(r, 200));
    }
  })();' "$url" || { cat "$art/server.log" >&2; exit 1; }
say "server ready at $url (log: $art/server.log)${static_dir:+, page from $static_dir}"

# --- the test ------------------------------------------------------------------
page_file="$(cd "${static_dir:-web}" && pwd)/index.html"
rc=0
( cd tests/browser
  INFERD_URL="$url" TEST_IMAGE="$image" ARTIFACT_DIR="$art" CHROMIUM=/usr/bin/chromium \
  PAGE_FILE="$page_file" \
    node --test --test-reporter=spec --test-reporter-destination=stdout \
      --test-reporter=tap --test-reporter-destination="$art/results.tap" page.test.mjs ) || rc=$?

passed=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$art/results.tap" | tail -n1)
failed=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$art/results.tap" | tail -n1)
[ -f "$art/screenshot.png" ] && echo "screenshot: $art/screenshot.png"
echo "browser: ${passed:-0} passed, ${failed:-0} failed"
if [ "$rc" -eq 0 ] && [ "${failed:-0}" -eq 0 ] && [ "${passed:-0}" -gt 0 ]; then exit 0; fi
[ "$rc" -ne 0 ] || rc=1
exit "$rc"
