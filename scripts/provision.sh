#!/usr/bin/env bash
# Brings up everything Chronoverse needs on a fresh Debian machine (root, no systemd):
# Debian packages (Chromium for the browser tests among them), PostgreSQL 15 and Redis 7 with their
# data under .data/ on loopback, the Docker engine, and the two local images tests and demos use.
# Every step skips what is already there.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DATA="$ROOT/.data"
PG_PORT="${CHRONOVERSE_PG_PORT:-5433}"
REDIS_PORT="${CHRONOVERSE_REDIS_PORT:-6380}"
PG_BIN="/usr/lib/postgresql/15/bin"
mkdir -p "$DATA"

log() { printf '[provision] %s\n' "$*"; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

install_packages() {
  # wrk is the benchmarks' HTTP load generator (C: it leaves the CPU to the server it measures).
  # chromium (with a font to render text) is the browser the browser tests drive through Playwright:
  # Debian's build, so nothing downloads a browser of its own.
  # docker-registry and iproute2: the scale-out tests run an image registry and give each simulated
  # worker host's dockerd a bridge of its own (bench/hosts.py).
  # docker-compose checks docker-compose.yml in the tests (Debian's 1.29, no plugin needed).
  local wanted=(postgresql-15 redis-server docker.io busybox-static debootstrap docker-registry wrk iproute2
    chromium fonts-dejavu-core docker-compose)
  local missing=()
  for p in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then log "packages present"; return; fi
  log "installing ${missing[*]}"
  as_root apt-get update -qq
  # policy-rc.d keeps the packages' init scripts from starting system-wide daemons: we start our own.
  printf '#!/bin/sh\nexit 101\n' | as_root tee /usr/sbin/policy-rc.d >/dev/null
  as_root chmod +x /usr/sbin/policy-rc.d
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" iptables ca-certificates >/dev/null
  as_root rm -f /usr/sbin/policy-rc.d
}

start_postgres() {
  if "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; then log "postgres up on $PG_PORT"; return; fi
  local pgdata="$DATA/postgres"
  # The server refuses to run as root: the data folder belongs to the postgres system user.
  if [ ! -s "$pgdata/PG_VERSION" ]; then
    log "initdb $pgdata"
    mkdir -p "$pgdata"
    chown postgres:postgres "$pgdata"
    chmod 700 "$pgdata"
    runuser -u postgres -- "$PG_BIN/initdb" -D "$pgdata" -U chronoverse --auth=trust \
      -E UTF8 --locale=C.UTF-8 >/dev/null
  fi
  chown -R postgres:postgres "$pgdata"
  log "starting postgres on 127.0.0.1:$PG_PORT"
  runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$pgdata" -l "$pgdata/server.log" -w -t 60 \
    -o "-p $PG_PORT -c listen_addresses=127.0.0.1 -k /tmp -c max_connections=200 -c fsync=on" start >/dev/null
  for db in chronoverse; do
    if ! psql -h 127.0.0.1 -p "$PG_PORT" -U chronoverse -d postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname='$db'" | grep -q 1; then
      psql -h 127.0.0.1 -p "$PG_PORT" -U chronoverse -d postgres -qc "CREATE DATABASE $db" >/dev/null
    fi
  done
}

start_redis() {
  if redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; then
    log "redis up on $REDIS_PORT"; return
  fi
  mkdir -p "$DATA/redis"
  log "starting redis on 127.0.0.1:$REDIS_PORT"
  redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$DATA/redis" \
    --pidfile "$DATA/redis/redis.pid" --logfile "$DATA/redis/redis.log" --save 60 1000 \
    --appendonly no >/dev/null
  for _ in $(seq 1 50); do
    redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG && return
    sleep 0.1
  done
  log "redis did not start"; exit 1
}

start_docker() {
  if docker info >/dev/null 2>&1; then log "docker engine up"; return; fi
  log "starting dockerd"
  mkdir -p "$DATA/docker"
  nohup dockerd >"$DATA/docker/dockerd.log" 2>&1 &
  echo $! >"$DATA/docker/dockerd.pid"
  for _ in $(seq 1 120); do
    docker info >/dev/null 2>&1 && return
    sleep 0.5
  done
  log "dockerd did not start; its log:"; tail -n 30 "$DATA/docker/dockerd.log"; exit 1
}

apt_mirror() {
  # The machine's own Debian mirror, read from its apt sources (never written into the repo).
  local uri=""
  if compgen -G "/etc/apt/sources.list.d/*.sources" >/dev/null; then
    uri=$(awk '/^URIs:/{u=$2} /^Suites:/{ if ($0 !~ /security/ && u!="") {print u; exit} }' \
      /etc/apt/sources.list.d/*.sources)
  fi
  if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
    uri=$(awk '$1=="deb" && $0 !~ /security/ {for(i=2;i<=NF;i++) if ($i ~ /^(https?|file):/) {print $i; exit}}' \
      /etc/apt/sources.list)
  fi
  echo "$uri"
}

build_busybox_image() {
  if docker image inspect chronoverse/busybox:latest >/dev/null 2>&1; then
    log "image chronoverse/busybox:latest present"; return
  fi
  log "building chronoverse/busybox:latest from busybox-static"
  local ctx; ctx=$(mktemp -d)
  mkdir -p "$ctx/bin" "$ctx/tmp" "$ctx/etc"
  cp /bin/busybox "$ctx/bin/busybox"
  for applet in $(/bin/busybox --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$ctx/bin/$applet"
  done
  chmod 1777 "$ctx/tmp"
  echo "root:x:0:0:root:/:/bin/sh" >"$ctx/etc/passwd"
  echo "root:x:0:" >"$ctx/etc/group"
  # An import of a tarball is a FROM scratch image holding exactly these files.
  tar -C "$ctx" -c . | docker import --change 'ENV PATH=/bin' --change 'CMD ["sh"]' - \
    chronoverse/busybox:latest >/dev/null
  rm -rf "$ctx"
}

build_python_image() {
  if docker image inspect chronoverse/python:3.11 >/dev/null 2>&1; then
    log "image chronoverse/python:3.11 present"; return
  fi
  local mirror suite rootfs
  mirror=$(apt_mirror)
  suite=$(. /etc/os-release && echo "$VERSION_CODENAME")
  [ -n "$mirror" ] || { log "no apt mirror found in the apt sources"; exit 1; }
  rootfs="$DATA/images/python-rootfs"
  log "debootstrap $suite with python3 (a few minutes)"
  rm -rf "$rootfs"; mkdir -p "$rootfs"
  debootstrap --variant=minbase --include=python3 "$suite" "$rootfs" "$mirror" \
    >"$DATA/images/debootstrap.log" 2>&1 || { tail -n 30 "$DATA/images/debootstrap.log"; exit 1; }
  rm -rf "$rootfs/var/cache/apt/archives/"*.deb "$rootfs/var/lib/apt/lists/"*
  tar -C "$rootfs" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' --change 'CMD ["python3"]' - chronoverse/python:3.11 >/dev/null
  rm -rf "$rootfs"
}

install_packages
start_postgres
start_redis
start_docker
build_busybox_image
build_python_image
log "ready: postgres 127.0.0.1:$PG_PORT, redis 127.0.0.1:$REDIS_PORT, docker engine, images"
