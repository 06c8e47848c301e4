#!/usr/bin/env bash
# Container test: the Docker path end to end.
#   1. engine and base image, set up only when missing (scripts/docker-env.sh);
#   2. ./run.sh with WEIGHTS=seeded: builds the image, starts it, waits for
#      /ready, POSTs every image in data/ (all must answer 200), stops it;
#   3. `docker run IMAGE --help` works; the container runs as a non-root
#      user (image config and `id -u` inside); the image has a HEALTHCHECK
#      and says which weights it holds (label org.inferd.weights);
#   4. with --failover, scripts/failover-test.sh (compose + nginx, a replica
#      stopped under load); with --k8s, deploy/k8s/validate.sh and
#      deploy/kserve/validate.sh;
# and prints image size, build time and time-to-ready.  Leaves the system as
# found: stops the dockerd it started (not one that was already running;
# KEEP_ENGINE=1 keeps it), keeps the image (IMG_NAME) as build cache.
#
# Usage: scripts/docker-test.sh [--failover] [--k8s] [--if-changed [BASE]]
#   --if-changed [BASE]  run only when the container files (Dockerfile,
#                        .dockerignore, run.sh, deploy/, scripts/docker-*.sh,
#                        scripts/failover-test.sh, scripts/install-deps.sh)
#                        differ from git BASE (default origin/main, else
#                        HEAD~1) or in the working tree; else exit 0
# Environment: IMG_NAME (default inferd:test), PORT (default 5099), DOCKER.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

IMG_NAME=${IMG_NAME:-inferd:test}
PORT=${PORT:-5099}
read -r -a docker <<< "${DOCKER:-docker}"
failover=0 k8s=0 if_changed=0 base_ref=
while [ $# -gt 0 ]; do
  case "$1" in
    --failover) failover=1; shift ;;
    --k8s) k8s=1; shift ;;
    --if-changed)
      if_changed=1; shift
      if [ $# -gt 0 ] && [[ "$1" != --* ]]; then base_ref=$1; shift; fi ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) echo "docker-test: unknown argument $1" >&2; exit 2 ;;
  esac
done

say() { echo "docker-test: $*" >&2; }
die() { echo "docker-test: FAIL: $*" >&2; exit 1; }

if [ $if_changed = 1 ]; then
  if [ -z "$base_ref" ]; then
    if git rev-parse -q --verify origin/main >/dev/null; then base_ref=origin/main; else base_ref=HEAD~1; fi
  fi
  pattern='^(Dockerfile|\.dockerignore|run\.sh|deploy/|scripts/docker-[a-z]+\.sh|scripts/failover-test\.sh|scripts/install-deps\.sh|\.github/workflows/publish\.yml)'
  changed=$( { git diff --name-only "$base_ref"...HEAD 2>/dev/null || git diff --name-only "$base_ref" 2>/dev/null || true
               git status --porcelain | cut -c4-; } | grep -E "$pattern" | sort -u || true)
  if [ -z "$changed" ]; then
    say "no container files changed since $base_ref: skipped (run without --if-changed to force)"
    exit 0
  fi
  say "container files changed since $base_ref: $(echo $changed)"
fi

t_all=$(date +%s)
engine_was_up=0
"${docker[@]}" info >/dev/null 2>&1 && engine_was_up=1
state=${INFERD_DOCKER_STATE:-/run/inferd-docker}
cleanup() {
  local rc=$?
  if [ $engine_was_up = 0 ] && [ "${KEEP_ENGINE:-0}" != 1 ] && [ -f "$state/dockerd.pid" ]; then
    DOCKER="${docker[*]}" scripts/docker-env.sh --stop || true
  fi
  exit $rc
}
trap cleanup EXIT

t=$(date +%s)
DOCKER="${docker[*]}" scripts/docker-env.sh
t_env=$(( $(date +%s) - t ))

say "run.sh with WEIGHTS=seeded, IMG_NAME=$IMG_NAME, PORT=$PORT"
log=$(mktemp)
trap 'rm -f "$log"; cleanup' EXIT
set +e
IMG_NAME=$IMG_NAME WEIGHTS=seeded PORT=$PORT SERVER_ADDR=127.0.0.1 DOCKER="${docker[*]}" ./run.sh 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
[ "$rc" = 0 ] || die "./run.sh failed (exit $rc)"
answered=$(grep -c '^data/.*: {"class_id"' "$log" || true)
n_images=$(find data -maxdepth 1 -type f \( -iname '*.jpg' -o -iname '*.jpeg' -o -iname '*.png' -o -iname '*.gif' -o -iname '*.bmp' \) | wc -l)
[ "$answered" = "$n_images" ] || die "run.sh printed $answered classifications for $n_images images"
build_s=$(sed -n 's/.*built .* in \([0-9.]*\) s$/\1/p' "$log" | tail -1)
ready_s=$(sed -n 's/.*ready after \([0-9.]*\) s$/\1/p' "$log" | tail -1)

say "checking docker run $IMG_NAME --help"
help=$("${docker[@]}" run --rm --network none "$IMG_NAME" --help) || die "docker run $IMG_NAME --help failed"
grep -q -- '--port' <<< "$help" || die "--help does not list the flags"

say "checking the user"
user=$("${docker[@]}" image inspect -f '{{.Config.User}}' "$IMG_NAME")
case "${user%%:*}" in ""|0|root) die "image user is '${user:-<unset>}' (root)" ;; esac
uid=$("${docker[@]}" run --rm --network none --entrypoint id "$IMG_NAME" -u)
[ "$uid" != 0 ] || die "the container runs as uid 0"

health=$("${docker[@]}" image inspect -f '{{if .Config.Healthcheck}}{{join .Config.Healthcheck.Test " "}}{{end}}' "$IMG_NAME")
grep -q '/ready' <<< "$health" || die "no HEALTHCHECK on /ready"
weights=$("${docker[@]}" image inspect -f '{{index .Config.Labels "org.inferd.weights"}}' "$IMG_NAME")
[ "$weights" = seeded ] || die "label org.inferd.weights is '$weights', expected seeded"

if [ $failover = 1 ]; then
  INFERD_IMAGE=$IMG_NAME DOCKER="${docker[*]}" scripts/failover-test.sh
fi
if [ $k8s = 1 ]; then
  deploy/k8s/validate.sh
  deploy/kserve/validate.sh
fi

size=$("${docker[@]}" image inspect -f '{{.Size}}' "$IMG_NAME")
echo "----------------------------------------------------------------"
awk -v n="$IMG_NAME" -v s="$size" 'BEGIN { printf "image          %s: %.0f MB (%.2f GB; the original image was 1.79 GB)\n", n, s / 1e6, s / 1e9 }'
printf 'user           %s (uid %s)\n' "$user" "$uid"
printf 'weights        %s\n' "$weights"
printf 'engine set-up  %s s\n' "$t_env"
printf 'build          %s s\n' "${build_s:-?}"
printf 'time to ready  %s s (docker run -> GET /ready 200)\n' "${ready_s:-?}"
printf 'images         %s/%s answered 200\n' "$answered" "$n_images"
printf 'total          %s s\n' "$(( $(date +%s) - t_all ))"
echo "docker-test: PASS"
