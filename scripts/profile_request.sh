#!/usr/bin/env bash
# Counts the CPU instructions one POST / of an image costs inferd outside the
# model, stage by stage (issue 14): the server linked with the stub model
# (tests/support/model_stub.c, so no libtorch) runs under callgrind, which
# counts instructions and so gives the same figures on a noisy machine.
#   scripts/profile_request.sh [--image FILE] [--requests N] [--out DIR]
# Prints a markdown table of instructions per request for each stage and
# keeps the callgrind file in DIR (build-profile/) for callgrind_annotate.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
image="" requests=20 out=build-profile
while [ $# -gt 0 ]; do
  case "$1" in
    --image) image=$2; shift 2 ;;
    --requests) requests=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "profile_request.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
scripts/install-deps.sh test >/dev/null
scripts/setup.sh --class-index-only >/dev/null
if [ -z "$image" ]; then
  image=../shared/data/dog.jpg
  [ -f "$image" ] || image=$(ls data/*.jpg | head -n 1)
fi

. scripts/lib/build.sh
# The release flags with symbols: callgrind names every function.
inferd_configure "$out" RelWithDebInfo ON -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O3 -g -DNDEBUG" >/dev/null
cmake --build "$out" -j "$(nproc)" --target inferd_stub >/dev/null

port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cg="$out/callgrind.out"
rm -f "$cg"*
log="$out/profile-server.log"
# One HTTP thread and one worker: the request's path, not scheduling.
valgrind --tool=callgrind --callgrind-out-file="$cg" --separate-threads=no \
  "$out/inferd_stub" --addr 127.0.0.1 --port "$port" --model stub --class-index imagenet_class_index.json \
  --http-threads 1 --model-instances 1 --threads 1 --lone-request-threads 1 --warmup 1 --access-log false \
  >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 600); do
  curl -sf "http://127.0.0.1:$port/ready" >/dev/null 2>&1 && break
  kill -0 $pid 2>/dev/null || { echo "profile_request.sh: the server died:"; tail -20 "$log"; exit 1; }
  sleep 0.5
done
post() { curl -sf -o /dev/null -F "image=@$image" "http://127.0.0.1:$port/"; }
# Warm: first-call costs (lazy symbol binding, first allocations) are not per request.
for _ in 1 2 3; do post; done
callgrind_control -z $pid >/dev/null
for _ in $(seq "$requests"); do post; done
callgrind_control -d $pid >/dev/null
kill -TERM $pid
wait $pid || true
trap - EXIT
dump=$(ls -t "$cg".* 2>/dev/null | grep -v '\.0$' | head -n 1 || true)
[ -n "$dump" ] || dump=$(ls -t "$cg"* | head -n 1)
/usr/bin/python3 scripts/lib/callgrind_stages.py "$dump" "$requests" "$image"
