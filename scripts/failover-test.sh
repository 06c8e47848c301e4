#!/usr/bin/env bash
# Scale-out fail-over test: deploy/compose.yaml with 2 inferd replicas behind
# nginx on loopback; send REQUESTS classification POSTs from CLIENTS
# concurrent clients through nginx, `docker stop` one replica after
# STOP_AFTER of them have completed, and require that no request failed
# (nginx re-sends a failed request to the other replica).
#
# Usage: scripts/failover-test.sh [--keep]
# Environment (defaults): INFERD_IMAGE=inferd:test (built with WEIGHTS=seeded
#   when missing), REQUESTS=300, CLIENTS=4, STOP_AFTER=100, LB_PORT=5100,
#   DOCKER=docker, COMPOSE=auto ("docker compose", "docker-compose", or
#   "none": the same topology with plain docker run + the same nginx.conf).
# Sets up the engine and base image when missing (scripts/docker-env.sh).
# Tears everything down at the end unless --keep.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

INFERD_IMAGE=${INFERD_IMAGE:-inferd:test}
REQUESTS=${REQUESTS:-300}
CLIENTS=${CLIENTS:-4}
STOP_AFTER=${STOP_AFTER:-100}
LB_PORT=${LB_PORT:-5100}
COMPOSE=${COMPOSE:-auto}
read -r -a docker <<< "${DOCKER:-docker}"
project=inferd-failover
keep=0
[ "${1:-}" = --keep ] && keep=1
[ "${1:-}" = -h ] || [ "${1:-}" = --help ] && { sed -n '2,15p' "$0"; exit 0; }

say() { echo "failover-test: $*" >&2; }
die() { echo "failover-test: FAIL: $*" >&2; exit 1; }

DOCKER="${docker[*]}" scripts/docker-env.sh
if [ "$("${docker[@]}" network inspect bridge >/dev/null 2>&1 && echo y)" = y ]; then build_net=default; else build_net=host; fi

if ! "${docker[@]}" image inspect "$INFERD_IMAGE" >/dev/null 2>&1; then
  say "$INFERD_IMAGE missing: building it (WEIGHTS=seeded)"
  [ -s imagenet_class_index.json ] || scripts/setup.sh --class-index-only
  "${docker[@]}" build --network "$build_net" --build-arg WEIGHTS=seeded -t "$INFERD_IMAGE" . >/dev/null
fi

if [ "$COMPOSE" = auto ]; then
  if "${docker[@]}" compose version >/dev/null 2>&1; then COMPOSE="${docker[*]} compose"
  elif command -v docker-compose >/dev/null 2>&1; then COMPOSE="docker-compose"
  else COMPOSE=none; fi
fi
read -r -a compose <<< "$COMPOSE"
export INFERD_IMAGE LB_ADDR=127.0.0.1 LB_PORT BUILD_NETWORK=$build_net
# Two replicas share this machine's CPUs.
export INFERD_MODEL_INSTANCES=${INFERD_MODEL_INSTANCES:-$(( $(nproc) / 2 > 0 ? $(nproc) / 2 : 1 ))}
export INFERD_THREADS=${INFERD_THREADS:-1}
cf=(-p "$project" -f deploy/compose.yaml)

replica_ids() {
  if [ "$COMPOSE" = none ]; then
    "${docker[@]}" ps -q --filter "label=org.inferd.failover=$project" --filter "label=org.inferd.role=inferd"
  else
    "${compose[@]}" "${cf[@]}" ps -q inferd
  fi
}

down() {
  if [ "$COMPOSE" = none ]; then
    local ids
    mapfile -t ids < <("${docker[@]}" ps -aq --filter "label=org.inferd.failover=$project")
    [ ${#ids[@]} = 0 ] || "${docker[@]}" rm -f "${ids[@]}" >/dev/null 2>&1 || true
    "${docker[@]}" network rm "${project}_default" >/dev/null 2>&1 || true
  else
    "${compose[@]}" "${cf[@]}" down --remove-orphans >/dev/null 2>&1 || true
  fi
}
cleanup() {
  local rc=$?
  if [ $keep = 1 ]; then say "left running (balancer http://127.0.0.1:$LB_PORT/)"; exit $rc; fi
  [ $rc = 0 ] || { say "logs:"; if [ "$COMPOSE" = none ]; then for c in $("${docker[@]}" ps -aq --filter "label=org.inferd.failover=$project"); do "${docker[@]}" logs --tail 15 "$c" 2>&1 | sed 's/^/  /'; done; else "${compose[@]}" "${cf[@]}" logs --tail 15 2>&1 | sed 's/^/  /'; fi >&2; }
  down
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$LB_PORT" 2>/dev/null && die "127.0.0.1:$LB_PORT is in use (set LB_PORT)"
down
t0=$(date +%s)
if [ "$COMPOSE" != none ]; then
  say "starting deploy/compose.yaml with ${compose[*]}: 2 x $INFERD_IMAGE (INFERD_MODEL_INSTANCES=$INFERD_MODEL_INSTANCES, INFERD_THREADS=$INFERD_THREADS) + nginx on 127.0.0.1:$LB_PORT"
  "${compose[@]}" "${cf[@]}" build nginx >/dev/null
  "${compose[@]}" "${cf[@]}" up -d --scale inferd=2 >/dev/null
else
  say "no compose available: the same topology with docker run (network ${project}_default, alias inferd)"
  net=${project}_default
  "${docker[@]}" network create "$net" >/dev/null
  for i in 1 2; do
    "${docker[@]}" run -d --name "${project}_inferd_$i" --network "$net" --network-alias inferd \
      --label "org.inferd.failover=$project" --label org.inferd.role=inferd \
      -e "INFERD_MODEL_INSTANCES=$INFERD_MODEL_INSTANCES" -e "INFERD_THREADS=$INFERD_THREADS" --stop-timeout 15 "$INFERD_IMAGE" >/dev/null
  done
  "${docker[@]}" build -q --network "$build_net" -t inferd-nginx deploy/nginx >/dev/null
fi

say "waiting for both replicas to be healthy (image HEALTHCHECK on /ready)"
mapfile -t ids < <(replica_ids)
[ ${#ids[@]} = 2 ] || die "expected 2 replicas, found ${#ids[@]}"
for ((i = 0; i < 150; i++)); do
  healthy=0
  for id in "${ids[@]}"; do
    [ "$("${docker[@]}" inspect -f '{{.State.Health.Status}}' "$id")" = healthy ] && healthy=$((healthy + 1))
  done
  [ $healthy = 2 ] && break
  sleep 2
done
[ $healthy = 2 ] || die "replicas not healthy after 300 s"
say "replicas healthy after $(( $(date +%s) - t0 )) s"
if [ "$COMPOSE" = none ]; then
  "${docker[@]}" run -d --name "${project}_nginx" --network "${project}_default" \
    --label "org.inferd.failover=$project" -p "127.0.0.1:$LB_PORT:8080" \
    -v "$root/deploy/nginx/nginx.conf:/etc/nginx/nginx.conf:ro" inferd-nginx >/dev/null
fi
for ((i = 0; i < 60; i++)); do
  curl -fs -m 2 -o /dev/null -F image=@data/chelsea.png "http://127.0.0.1:$LB_PORT/" && break
  sleep 1
done
[ $i -lt 60 ] || die "the balancer does not answer on 127.0.0.1:$LB_PORT"

declare -A name_of
ip_map=""
for id in "${ids[@]}"; do
  name=$("${docker[@]}" inspect -f '{{.Name}}' "$id"); name=${name#/}
  ip=$("${docker[@]}" inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$id")
  name_of[$id]=$name
  ip_map+="$ip:5000=$name,"
done
victim=${ids[0]}
say "load: $REQUESTS POSTs, $CLIENTS clients, docker stop ${name_of[$victim]} after $STOP_AFTER"

rc=0
/usr/bin/python3 - "$LB_PORT" "$REQUESTS" "$CLIENTS" "$STOP_AFTER" "$victim" "${docker[*]}" "$ip_map" data/* <<'PY' || rc=$?
import collections, http.client, os, subprocess, sys, threading, time, uuid

port, total, clients, stop_after = (int(x) for x in sys.argv[1:5])
victim, docker, ip_map = sys.argv[5], sys.argv[6].split(), sys.argv[7]
names = dict(kv.split("=") for kv in ip_map.strip(",").split(","))
images = [(os.path.basename(p), open(p, "rb").read()) for p in sys.argv[8:]
          if p.lower().endswith((".jpg", ".jpeg", ".png"))]

def body_for(name, data):
    b = uuid.uuid4().hex
    head = ('--%s\r\nContent-Disposition: form-data; name="image"; filename="%s"\r\n'
            'Content-Type: application/octet-stream\r\n\r\n' % (b, name)).encode()
    return b, head + data + ("\r\n--%s--\r\n" % b).encode()

bodies = [body_for(n, d) for n, d in images]
lock = threading.Lock()
next_i = 0
done = 0
results = []   # (t_end, status, upstream, latency)
stop = {}
t0 = time.monotonic()

def stopper():
    stop["start"] = time.monotonic() - t0
    stop["done_before"] = done
    r = subprocess.run(docker + ["stop", "-t", "15", victim], capture_output=True, text=True)
    stop["end"] = time.monotonic() - t0
    stop["rc"] = r.returncode

def client():
    global next_i, done
    conn = None
    while True:
        with lock:
            if next_i >= total:
                return
            i = next_i
            next_i += 1
        b, body = bodies[i % len(bodies)]
        t = time.monotonic()
        status, upstream = None, ("", "")
        for attempt in range(2):   # a fresh connection if the kept-alive one was closed by nginx
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                conn.request("POST", "/", body, {"Content-Type": "multipart/form-data; boundary=" + b})
                r = conn.getresponse()
                r.read()
                status = r.status
                upstream = (r.getheader("X-Upstream", ""), r.getheader("X-Upstream-Status", ""))
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as e:
                conn = None
                if attempt == 1:
                    status = "exc:" + type(e).__name__
            except Exception as e:
                conn = None
                status = "exc:" + type(e).__name__
                break
        with lock:
            done += 1
            results.append((time.monotonic() - t0, status, upstream, time.monotonic() - t))
            if done == stop_after:
                threading.Thread(target=stopper).start()

threads = [threading.Thread(target=client) for _ in range(clients)]
for t in threads: t.start()
for t in threads: t.join()
while "end" not in stop and stop_after <= total:
    time.sleep(0.1)
elapsed = time.monotonic() - t0

fails = [r for r in results if r[1] != 200]
by_status = collections.Counter(r[1] for r in results)
def per_upstream(rs):   # the replica that gave the final answer
    c = collections.Counter()
    for r in rs:
        u = r[2][0].split(", ")[-1]
        c[names.get(u, u or "-")] += 1
    return dict(c)
before = [r for r in results if r[0] < stop.get("start", 1e9)]
during = [r for r in results if stop.get("start", 1e9) <= r[0] <= stop.get("end", 1e9)]
after = [r for r in results if r[0] > stop.get("end", 1e9)]
retried = collections.Counter(
    "%s from %s" % (r[2][1].split(", ")[0], names.get(r[2][0].split(", ")[0], "?"))
    for r in results if "," in r[2][0])
lat = sorted(r[3] for r in results)
print("requests: %d in %.1f s (%.1f req/s), clients %d" % (len(results), elapsed, len(results) / elapsed, clients))
print("statuses: %s" % dict(by_status))
print("replica stop: docker stop began at t=%.1f s after %d completed requests, returned at t=%.1f s (rc %s)"
      % (stop.get("start", -1), stop.get("done_before", -1), stop.get("end", -1), stop.get("rc")))
print("answered by (nginx X-Upstream): before stop %s; during %s; after %s"
      % (per_upstream(before), per_upstream(during), per_upstream(after)))
print("requests nginx re-sent to the other replica: %d %s" % (sum(retried.values()), dict(retried)))
print("latency: p50 %.0f ms, p99 %.0f ms, max %.0f ms"
      % (1000 * lat[len(lat) // 2], 1000 * lat[int(len(lat) * 0.99)], 1000 * lat[-1]))
print("failures: %d" % len(fails))
for r in fails[:10]:
    print("  failed at t=%.1f s: %s upstream=%s" % (r[0], r[1], r[2]))
sys.exit(1 if fails or len(results) != total or stop.get("rc") != 0 else 0)
PY
say "stopped replica ${name_of[$victim]}, last log lines:"
"${docker[@]}" logs --tail 4 "$victim" 2>&1 | cut -c1-160 | sed 's/^/  /' >&2
survivor=${ids[1]}
say "surviving replica ${name_of[$survivor]}: peak RSS $("${docker[@]}" exec "$survivor" awk '/VmHWM/ {printf "%.0f MiB", $2/1024}' /proc/1/status), now $("${docker[@]}" stats --no-stream --format '{{.MemUsage}}' "$survivor")"
[ $rc = 0 ] || die "requests failed during fail-over"
say "PASS: no request lost while a replica was stopped under load"
