#!/usr/bin/env bash
# The build-run-test loop:
#   (a) build the image (docker build, WEIGHTS passed as a build argument),
#   (b) start a container from it,
#   (c) wait until GET /ready answers 200 (polling, bounded), POST every image
#       in data/ with curl and print each answer,
# then stop what it started (unless --keep).  Exit status 0 only when the
# server got ready and every image was answered 200.
#
# Usage: ./run.sh [--native] [--keep] [--no-build] [-h|--help]
#   --native    no Docker: install packages (scripts/install-deps.sh), fetch
#               the class index and export the model (scripts/setup.sh),
#               build with CMake into $BUILD_DIR and run that binary
#   --keep      leave the server running afterwards (prints how to stop it)
#   --no-build  use the existing image (or binary) as it is
# Environment (defaults):
#   IMG_NAME=inferd          image name[:tag] built and run
#   DOCKER=docker            client command ("sudo docker", "podman" work)
#   SERVER_ADDR=127.0.0.1    where the server is published and reached
#   PORT=5000                its port
#   WEIGHTS=auto             pretrained|seeded|auto: build argument (--native: scripts/setup.sh)
#   DATA_DIR=data            images to POST (*.jpg *.jpeg *.png *.gif *.bmp)
#   READY_TIMEOUT_S=300      how long to wait for /ready
#   DOCKER_NETWORK=auto      bridge (publish -p SERVER_ADDR:PORT:5000) or host
#                            (server listens on SERVER_ADDR:PORT itself); auto
#                            picks host only when the engine has no bridge
#   INFERD_CONTAINER=inferd-run-PORT  container name
#   BUILD_DIR=build-run      --native build directory
set -euo pipefail
root=$(cd "$(dirname "$0")" && pwd)
cd "$root"

IMG_NAME=${IMG_NAME:-inferd}
read -r -a docker <<< "${DOCKER:-docker}"
SERVER_ADDR=${SERVER_ADDR:-127.0.0.1}
PORT=${PORT:-5000}
WEIGHTS=${WEIGHTS:-auto}
DATA_DIR=${DATA_DIR:-data}
READY_TIMEOUT_S=${READY_TIMEOUT_S:-300}
DOCKER_NETWORK=${DOCKER_NETWORK:-auto}
CONTAINER=${INFERD_CONTAINER:-inferd-run-$PORT}
BUILD_DIR=${BUILD_DIR:-build-run}

native=0 keep=0 build=1
for arg in "$@"; do
  case "$arg" in
    --native) native=1 ;;
    --keep) keep=1 ;;
    --no-build) build=0 ;;
    -h|--help) sed -n '2,29p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument '$arg' (see --help)" >&2; exit 2 ;;
  esac
done

say() { echo "run.sh: $*" >&2; }
die() { echo "run.sh: ERROR: $*" >&2; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

case "$WEIGHTS" in pretrained|seeded|auto) ;; *) die "WEIGHTS must be pretrained, seeded or auto (got '$WEIGHTS')" ;; esac
[[ "$PORT" =~ ^[0-9]+$ ]] && [ "$PORT" -ge 1 ] && [ "$PORT" -le 65535 ] || die "PORT must be 1..65535 (got '$PORT')"
command -v curl >/dev/null || die "curl is needed (apt-get install curl)"
url_host=$SERVER_ADDR
[[ "$url_host" == *:* ]] && url_host="[$url_host]"   # IPv6 literal
base_url="http://$url_host:$PORT"

shopt -s nullglob nocaseglob
images=("$DATA_DIR"/*.jpg "$DATA_DIR"/*.jpeg "$DATA_DIR"/*.png "$DATA_DIR"/*.gif "$DATA_DIR"/*.bmp)
shopt -u nullglob nocaseglob
[ ${#images[@]} -gt 0 ] || die "no images in $DATA_DIR/"

port_busy() {  # something already accepts connections on SERVER_ADDR:PORT
  timeout 2 bash -c "exec 3<>/dev/tcp/$SERVER_ADDR/$PORT" 2>/dev/null
}

# ------------------------------------------------------------------ clean-up
container_started=0 server_pid=
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ $keep = 1 ] && [ $rc = 0 ]; then
    if [ $container_started = 1 ]; then
      say "left running: container $CONTAINER at $base_url (stop: ${docker[*]} rm -f $CONTAINER)"
    elif [ -n "$server_pid" ]; then
      say "left running: pid $server_pid at $base_url (stop: kill $server_pid)"
    fi
    exit $rc
  fi
  if [ $container_started = 1 ]; then
    [ $rc = 0 ] || { say "container log (last 30 lines):"; "${docker[@]}" logs --tail 30 "$CONTAINER" 2>&1 | sed 's/^/  /' >&2 || true; }
    "${docker[@]}" rm -f "$CONTAINER" >/dev/null 2>&1 && say "stopped and removed container $CONTAINER"
  fi
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null
    for _ in $(seq 1 60); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.25; done
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    say "stopped server pid $server_pid"
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ------------------------------------------------------------------ (a) build, (b) start
if [ $native = 0 ]; then
  command -v "${docker[0]}" >/dev/null 2>&1 \
    || die "'${docker[0]}' not found: install Docker (https://docs.docker.com/engine/install/; on Debian scripts/docker-env.sh does it), set DOCKER=..., or use ./run.sh --native"
  "${docker[@]}" info >/dev/null 2>&1 \
    || die "the Docker engine does not answer ('${docker[*]} info' failed): start it (sudo systemctl start docker, or scripts/docker-env.sh), or check you may use it (docker group / DOCKER='sudo docker')"
  if [ "$DOCKER_NETWORK" = auto ]; then
    if "${docker[@]}" network inspect bridge >/dev/null 2>&1; then DOCKER_NETWORK=bridge; else DOCKER_NETWORK=host; fi
  fi
  net_build=() net_run=()
  case "$DOCKER_NETWORK" in
    bridge) net_run=(-p "$SERVER_ADDR:$PORT:5000") ;;
    # No port mapping on the host network: the server itself listens on
    # SERVER_ADDR:PORT (environment, so the image's healthcheck follows).
    host) net_build=(--network host); net_run=(--network host -e "INFERD_ADDR=$SERVER_ADDR" -e "INFERD_PORT=$PORT") ;;
    *) die "DOCKER_NETWORK must be auto, bridge or host (got '$DOCKER_NETWORK')" ;;
  esac
  if "${docker[@]}" container inspect "$CONTAINER" >/dev/null 2>&1; then
    die "a container named $CONTAINER already exists (${docker[*]} rm -f $CONTAINER, or set INFERD_CONTAINER)"
  fi
  port_busy && die "$SERVER_ADDR:$PORT is already in use (another server? set PORT=...)"

  if [ $build = 1 ]; then
    [ -s imagenet_class_index.json ] || scripts/setup.sh --class-index-only \
      || die "no imagenet_class_index.json (scripts/setup.sh --class-index-only failed)"
    say "(a) building $IMG_NAME (WEIGHTS=$WEIGHTS, network $DOCKER_NETWORK)"
    t_build=$(now)
    "${docker[@]}" build "${net_build[@]}" --build-arg "WEIGHTS=$WEIGHTS" \
      --build-arg "REVISION=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" -t "$IMG_NAME" . \
      || die "docker build failed"
    say "built $IMG_NAME in $(since "$t_build") s"
  else
    "${docker[@]}" image inspect "$IMG_NAME" >/dev/null 2>&1 || die "no image $IMG_NAME (drop --no-build)"
  fi
  # What the model in the image really holds (WEIGHTS=auto decides during
  # the build): stamp it into the label org.inferd.weights.
  resolved=$("${docker[@]}" run --rm --network none --entrypoint cat "$IMG_NAME" /app/models/WEIGHTS 2>/dev/null || echo unknown)
  label=$("${docker[@]}" image inspect -f '{{index .Config.Labels "org.inferd.weights"}}' "$IMG_NAME")
  kind=${resolved%% *}
  if [ "$kind" != unknown ] && [ "$label" != "$kind" ]; then
    printf 'FROM %s\n' "$IMG_NAME" | "${docker[@]}" build -q --label "org.inferd.weights=$kind" -t "$IMG_NAME" - >/dev/null \
      && say "labelled $IMG_NAME org.inferd.weights=$kind"
  fi
  if [ "$kind" = seeded ]; then
    say "WARNING: $IMG_NAME holds a SEEDED TEST MODEL ($resolved): answers are NOT real ImageNet classifications"
  fi
  say "image $IMG_NAME: $("${docker[@]}" image inspect -f '{{.Size}}' "$IMG_NAME" | awk '{printf "%.0f MB", $1/1e6}'), weights: $resolved"

  say "(b) starting container $CONTAINER on $base_url"
  t_start=$(now)
  "${docker[@]}" run -d --name "$CONTAINER" "${net_run[@]}" "$IMG_NAME" >/dev/null \
    || die "docker run failed"
  container_started=1
  alive() { [ "$("${docker[@]}" inspect -f '{{.State.Running}}' "$CONTAINER" 2>/dev/null)" = true ]; }
else
  port_busy && die "$SERVER_ADDR:$PORT is already in use (another server? set PORT=...)"
  if [ $build = 1 ]; then
    say "(a) native build into $BUILD_DIR (WEIGHTS=$WEIGHTS)"
    t_build=$(now)
    scripts/install-deps.sh build run
    scripts/setup.sh --weights "$WEIGHTS"
    . scripts/lib/build.sh
    inferd_configure "$BUILD_DIR" Release OFF >/dev/null
    cmake --build "$BUILD_DIR" -j "$(nproc)" --target inferd inferd-classify >/dev/null
    say "built $BUILD_DIR/inferd in $(since "$t_build") s"
  fi
  [ -x "$BUILD_DIR/inferd" ] || die "no $BUILD_DIR/inferd (drop --no-build)"
  say "(b) starting $BUILD_DIR/inferd on $base_url"
  t_start=$(now)
  "$BUILD_DIR/inferd" --config config.json --addr "$SERVER_ADDR" --port "$PORT" &
  server_pid=$!
  alive() { kill -0 "$server_pid" 2>/dev/null; }
fi

# ------------------------------------------------------------------ (c) wait, then POST data/
say "(c) waiting for $base_url/ready (at most ${READY_TIMEOUT_S}s)"
deadline=$(( $(date +%s) + READY_TIMEOUT_S ))
until curl -fsS -o /dev/null -m 2 "$base_url/ready" 2>/dev/null; do
  alive || die "the server exited before it was ready"
  [ "$(date +%s)" -lt "$deadline" ] || die "not ready after ${READY_TIMEOUT_S}s"
  sleep 0.5
done
say "ready after $(since "$t_start") s"

failures=0
for img in "${images[@]}"; do
  out=$(curl -sS -m 60 -w '\n%{http_code}' -F "image=@$img" "$base_url/") || out=$'curl failed\n000'
  code=${out##*$'\n'}
  body=${out%$'\n'*}
  printf '%s: %s\n' "$img" "$body"
  [ "$code" = 200 ] || { say "  -> HTTP $code"; failures=$((failures + 1)); }
done
[ $failures = 0 ] || die "$failures of ${#images[@]} images failed"
say "all ${#images[@]} images answered"
