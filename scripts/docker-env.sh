#!/usr/bin/env bash
# Makes a Docker engine and the debian:bookworm-slim base image available,
# doing only what is missing, so it is cheap to call every time:
#   1. client: when no `docker` command exists, installs Debian's docker.io
#      (apt, as root or with sudo);
#   2. engine: when `docker info` fails, starts dockerd by hand
#        dockerd --iptables=false --bridge=none --storage-driver=overlay2
#      in the background (log: $DOCKERD_LOG), waits for it (bounded), and
#      records that it did so in $INFERD_DOCKER_STATE/dockerd.pid;
#   3. base image: when debian:bookworm-slim is missing, tries `docker pull`
#      (bounded), else builds it from Debian's mirror:
#        debootstrap --variant=minbase bookworm DIR && tar -C DIR -c . | docker import - debian:bookworm-slim
# On a machine with a normal Docker and internet, steps 1-3 do nothing.
#
# Usage: scripts/docker-env.sh            set up what is missing
#        scripts/docker-env.sh --check    only report; exit 1 if something is missing
#        scripts/docker-env.sh --stop     stop the dockerd this script started (if any)
#        scripts/docker-env.sh --network  print the network `docker run`/`docker build`
#                                         should use: "bridge" normally, "host" when the
#                                         engine has no bridge network (--bridge=none)
# Environment: DOCKER (client, default docker), BASE_IMAGE (default
#   debian:bookworm-slim), DEBIAN_MIRROR (default http://deb.debian.org/debian),
#   DOCKERD_LOG (default /var/log/inferd-dockerd.log), INFERD_DOCKER_STATE
#   (default /run/inferd-docker), DOCKERD_WAIT_S (default 60).
set -euo pipefail

DOCKER=${DOCKER:-docker}
BASE_IMAGE=${BASE_IMAGE:-debian:bookworm-slim}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
DOCKERD_LOG=${DOCKERD_LOG:-/var/log/inferd-dockerd.log}
STATE=${INFERD_DOCKER_STATE:-/run/inferd-docker}
DOCKERD_WAIT_S=${DOCKERD_WAIT_S:-60}

say() { echo "docker-env: $*" >&2; }
die() { say "ERROR: $*"; exit 1; }
sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)

have_client() { command -v "$DOCKER" >/dev/null 2>&1; }
engine_up() { "$DOCKER" info >/dev/null 2>&1; }
have_base() { "$DOCKER" image inspect "$BASE_IMAGE" >/dev/null 2>&1; }

network() {
  # An engine started with --bridge=none has no "bridge" network: containers
  # (and build steps) then need --network host to reach anything.
  if "$DOCKER" network inspect bridge >/dev/null 2>&1; then echo bridge; else echo host; fi
}

apt_install() {
  command -v apt-get >/dev/null 2>&1 || die "cannot install $* here (no apt-get); install Docker yourself: https://docs.docker.com/engine/install/"
  say "installing $* (apt)"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

start_engine() {
  command -v dockerd >/dev/null 2>&1 || [ -x /usr/sbin/dockerd ] || apt_install docker.io
  local dockerd
  dockerd=$(command -v dockerd || echo /usr/sbin/dockerd)
  [ "$(id -u)" -eq 0 ] || die "the Docker engine is not running and starting it needs root (try: sudo $0)"
  if [ -S /var/run/docker.sock ] && ! engine_up; then
    # A socket without a daemon: stale from a killed dockerd.
    pgrep -x dockerd >/dev/null 2>&1 && die "a dockerd process exists but does not answer; see $DOCKERD_LOG"
  fi
  mkdir -p "$STATE" "$(dirname "$DOCKERD_LOG")"
  say "starting dockerd (--iptables=false --bridge=none --storage-driver=overlay2), log $DOCKERD_LOG"
  # setsid: the engine outlives this script (callers stop it with --stop).
  setsid "$dockerd" --iptables=false --bridge=none --storage-driver=overlay2 >>"$DOCKERD_LOG" 2>&1 < /dev/null &
  echo $! > "$STATE/dockerd.pid"
  local i
  for ((i = 0; i < DOCKERD_WAIT_S * 2; i++)); do
    engine_up && { say "dockerd is up (pid $(cat "$STATE/dockerd.pid"))"; return 0; }
    kill -0 "$(cat "$STATE/dockerd.pid")" 2>/dev/null || { tail -20 "$DOCKERD_LOG" >&2; rm -f "$STATE/dockerd.pid"; die "dockerd exited; see $DOCKERD_LOG"; }
    sleep 0.5
  done
  die "dockerd did not answer within ${DOCKERD_WAIT_S}s; see $DOCKERD_LOG"
}

stop_engine() {
  local pidf="$STATE/dockerd.pid"
  [ -f "$pidf" ] || { say "no dockerd started by this script; nothing to stop"; return 0; }
  local pid i
  pid=$(cat "$pidf")
  if kill -0 "$pid" 2>/dev/null; then
    say "stopping dockerd (pid $pid)"
    kill -TERM "$pid"
    for ((i = 0; i < 60; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$pid" 2>/dev/null && die "dockerd (pid $pid) did not stop within 30s"
  fi
  rm -f "$pidf"
}

make_base() {
  # A registry first (a normal machine has one), bounded so an unreachable
  # Docker Hub costs seconds, not minutes.
  say "$BASE_IMAGE is missing; trying docker pull"
  if timeout 60 "$DOCKER" pull -q "$BASE_IMAGE" >/dev/null 2>&1 && have_base; then
    say "pulled $BASE_IMAGE"; return 0
  fi
  [ "$BASE_IMAGE" = debian:bookworm-slim ] || die "cannot pull $BASE_IMAGE and can only build debian:bookworm-slim locally"
  [ "$(id -u)" -eq 0 ] || die "building $BASE_IMAGE with debootstrap needs root (try: sudo $0)"
  command -v debootstrap >/dev/null 2>&1 || apt_install debootstrap
  local dir
  dir=$(mktemp -d /var/tmp/inferd-bookworm.XXXXXX)
  # shellcheck disable=SC2064
  trap "rm -rf '$dir'" EXIT
  say "no registry; debootstrap --variant=minbase bookworm from $DEBIAN_MIRROR (about a minute)"
  debootstrap --variant=minbase bookworm "$dir" "$DEBIAN_MIRROR" >"$dir.log" 2>&1 \
    || { tail -20 "$dir.log" >&2; die "debootstrap failed (log $dir.log)"; }
  rm -f "$dir.log"
  # Make it look like the official image: deb822 sources with updates and
  # security, no docs/man/locales (the "slim" dpkg excludes), no apt cache.
  rm -f "$dir/etc/apt/sources.list"
  cat > "$dir/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $DEBIAN_MIRROR
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${DEBIAN_MIRROR%/debian}/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  cat > "$dir/etc/dpkg/dpkg.cfg.d/docker-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
EOF
  cat > "$dir/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";
EOF
  find "$dir/usr/share/doc" -mindepth 2 ! -name copyright -delete 2>/dev/null || true
  rm -rf "$dir"/usr/share/{man,info,locale}/* "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/*.bin \
         "$dir"/var/cache/apt/archives/*.deb "$dir"/var/log/*.log
  tar -C "$dir" -c . | "$DOCKER" import -c 'CMD ["bash"]' -m "debootstrap --variant=minbase bookworm ($DEBIAN_MIRROR)" - "$BASE_IMAGE" >/dev/null
  rm -rf "$dir"
  trap - EXIT
  say "imported $BASE_IMAGE from debootstrap ($("$DOCKER" image inspect -f '{{.Size}}' "$BASE_IMAGE" | awk '{printf "%.0f MB", $1/1e6}'))"
}

check() {
  local ok=0
  if have_client; then say "client: $(command -v "$DOCKER")"; else say "client: MISSING"; ok=1; fi
  if have_client && engine_up; then say "engine: up (server $("$DOCKER" version -f '{{.Server.Version}}' 2>/dev/null), network for run/build: $(network))"; else say "engine: NOT RUNNING"; ok=1; fi
  if ! have_client || ! engine_up; then say "base image: $BASE_IMAGE unknown (no engine)"
  elif have_base; then say "base image: $BASE_IMAGE present"; else say "base image: $BASE_IMAGE MISSING"; ok=1; fi
  return $ok
}

case "${1:-}" in
  --check) check; exit $? ;;
  --stop) stop_engine; exit 0 ;;
  --network) engine_up || die "the Docker engine is not running"; network; exit 0 ;;
  -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
  "") ;;
  *) die "unknown argument $1 (see --help)" ;;
esac

if ! have_client; then
  apt_install docker.io
  # docker.io puts the client in /usr/bin.
  have_client || DOCKER=/usr/bin/docker
fi
engine_up || start_engine
have_base || make_base
say "ready: engine $("$DOCKER" version -f '{{.Server.Version}}'), base $BASE_IMAGE, network $(network)"
