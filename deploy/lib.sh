# Shared by deploy/cluster and deploy/chaos: where the local cluster lives, its ports, and
# how its processes are started, found and stopped. Sourced, never run.
# shellcheck shell=bash

DEPLOY_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$DEPLOY_DIR/.." && pwd)"
# Everything the cluster writes: pid files, logs, etcd's data, rendered configs, secrets.
DEPLOY_DATA="${TAVARO_DEPLOY_DATA:-$ROOT/.data/deploy}"
RUN_DIR="$DEPLOY_DATA/run"
LOG_DIR="$DEPLOY_DATA/log"

# --- Ports: one private range, nothing shared with `make run` (55432, 8080), below the
# kernel's ephemeral range (32768-60999), where an outgoing connection can hold a port ------
HOST=127.0.0.1
HAPROXY_PG_PORT=26000      # database front end (the primary)
HAPROXY_HTTP_PORT=26001    # partner front end (the three gateways)
HAPROXY_STATS_PORT=26002   # haproxy's stats page
GW_PORTS=(26011 26012 26013)
GW_METRICS_PORTS=(26051 26052 26053) # each gateway's /metrics listener
PG_API_PORTS=(26021 26022) # Patroni REST APIs
PG_PORTS=(26031 26032)     # PostgreSQL
ETCD_CLIENT_PORT=26040
ETCD_PEER_PORT=26041

GATEWAYS=(gw1 gw2 gw3)
PG_NODES=(pg1 pg2)
COMPONENTS=(etcd pg1 pg2 haproxy gw1 gw2 gw3)

# --- Settings that deploy/README.md explains ----------------------------------------------
PATRONI_TTL="${TAVARO_DEPLOY_PATRONI_TTL:-20}"
PATRONI_LOOP_WAIT="${TAVARO_DEPLOY_PATRONI_LOOP_WAIT:-2}"
PATRONI_RETRY_TIMEOUT="${TAVARO_DEPLOY_PATRONI_RETRY_TIMEOUT:-5}"
PG_MAX_CONNECTIONS=200
GW_DB_MAX_CONNECTIONS="${TAVARO_DEPLOY_DB_MAX_CONNECTIONS:-20}"
GW_SIM_LATENCY_MS="${TAVARO_DEPLOY_SIM_LATENCY_MS:-150}"
GW_SIM_FAILURE_RATE="${TAVARO_DEPLOY_SIM_FAILURE_RATE:-0.02}"

log() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }
warn() { printf '\033[1;33mwarning:\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31merror:\033[0m %s\n' "$*" >&2; exit 1; }

# The cluster's processes run as root (etcd, haproxy, gateways) and as postgres (Patroni
# and PostgreSQL): only root can start both.
require_root() {
  [ "$(id -u)" -eq 0 ] && return 0
  command -v sudo >/dev/null || die "run deploy/cluster as root (it starts PostgreSQL as the postgres user)"
  exec sudo --preserve-env=TAVARO_DEPLOY_DATA,TAVARO_DEPLOY_BIN,CARGO_TARGET_DIR "$0" "$@"
}

# Index of $1 in the rest of the arguments.
index_of() {
  local want="$1" i=0; shift
  for item in "$@"; do [ "$item" = "$want" ] && { echo "$i"; return 0; }; i=$((i + 1)); done
  return 1
}

# The port a component listens on (the one `status` shows and `up` checks).
component_port() {
  case "$1" in
    etcd) echo "$ETCD_CLIENT_PORT" ;;
    haproxy) echo "$HAPROXY_HTTP_PORT" ;;
    gw*) echo "${GW_PORTS[$(index_of "$1" "${GATEWAYS[@]}")]}" ;;
    pg*) echo "${PG_PORTS[$(index_of "$1" "${PG_NODES[@]}")]}" ;;
  esac
}

port_in_use() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }

# --- PostgreSQL's side: a directory the postgres user can enter ---------------------------
# The nodes' directories (Patroni config, data directory, pgpass) belong to postgres. They
# sit in $DEPLOY_DATA/pg when postgres can reach it, else (a checkout under a mode-700
# home) in ~postgres/tavaro-deploy/HASH, HASH naming the checkout. The choice is recorded
# in $DEPLOY_DATA/pg.path so every later command finds the same place.
as_postgres() {
  (cd / && setpriv --reuid=postgres --regid=postgres --init-groups \
    env -i HOME="$(postgres_home)" PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@")
}

postgres_home() {
  local home
  home="$(getent passwd postgres | cut -d: -f6)"
  [ -n "$home" ] && [ "$home" != / ] || home=/var/lib/postgresql
  echo "$home"
}

pg_home() {
  if [ -f "$DEPLOY_DATA/pg.path" ]; then cat "$DEPLOY_DATA/pg.path"; return 0; fi
  return 1
}

choose_pg_home() {
  local dir
  if pg_home >/dev/null; then pg_home; return 0; fi
  mkdir -p "$DEPLOY_DATA"
  chmod 755 "$DEPLOY_DATA"
  if as_postgres test -x "$DEPLOY_DATA" 2>/dev/null; then
    dir="$DEPLOY_DATA/pg"
  else
    dir="$(postgres_home)/tavaro-deploy/$(printf '%s' "$DEPLOY_DATA" | sha256sum | cut -c1-12)"
  fi
  mkdir -p "$dir"
  chown postgres: "$dir"
  chmod 700 "$dir"
  echo "$dir" > "$DEPLOY_DATA/pg.path"
  [ "$dir" = "$DEPLOY_DATA/pg" ] || echo "$DEPLOY_DATA" > "$dir/checkout"
  echo "$dir"
}

pg_node_dir() { echo "$(pg_home)/$1"; }

# --- Processes ----------------------------------------------------------------------------
pid_file() { echo "$RUN_DIR/$1.pid"; }

# The pid of component $1 if it is running (and is ours: its command line names our data
# directory or node directory, so a recycled pid is never taken for it).
component_pid() {
  local file pid marker
  file="$(pid_file "$1")"
  [ -f "$file" ] || return 1
  pid="$(cat "$file")"
  [ -n "$pid" ] && [ -d "/proc/$pid" ] || return 1
  case "$1" in
    pg*) marker="$(pg_home 2>/dev/null)/$1/" ;;
    *) marker="$DEPLOY_DATA/" ;;
  esac
  tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$marker" || return 1
  # A zombie is not running.
  [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ] || return 1
  echo "$pid"
}

# Starts a long-running process in its own session, detached from the terminal, output to
# log/$1.log, its pid in run/$1.pid (written by the process itself, before it execs).
# haproxy is the exception: it sets O_NONBLOCK on its standard output, which drops
# O_APPEND, so it writes a fresh log of its own (the previous one kept as .log.1).
start_process() {
  local name="$1"; shift
  local file="$LOG_DIR/$name.log"
  mkdir -p "$RUN_DIR" "$LOG_DIR"
  if [ "$name" = haproxy ]; then
    [ -f "$file" ] && mv -f "$file" "$file.1"
    : > "$file"
  fi
  printf '\n=== %s started %s\n' "$name" "$(date -u +%FT%TZ)" >> "$file"
  setsid bash -c 'echo $$ > "$0"; exec "$@"' "$(pid_file "$name")" "$@" \
    >> "$file" 2>&1 < /dev/null &
  # The pid file appears as soon as the child runs.
  for _ in $(seq 1 50); do [ -s "$(pid_file "$name")" ] && break; sleep 0.1; done
}

# Waits up to $1 seconds for a command to succeed.
wait_until() {
  local secs="$1"; shift
  local deadline=$((SECONDS + secs))
  while [ "$SECONDS" -lt "$deadline" ]; do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  return 1
}

# Waits up to $2 seconds for pid $1 to exit.
wait_exit() {
  local pid="$1" secs="$2"
  local deadline=$((SECONDS + secs))
  while [ -d "/proc/$pid" ] && [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.2
  done
  return 0
}

# The postmaster's pid of node $1 (from its postmaster.pid), if one runs.
postmaster_pid() {
  local file pid
  file="$(pg_node_dir "$1")/data/postmaster.pid"
  [ -f "$file" ] || return 1
  pid="$(head -n 1 "$file")"
  [ -n "$pid" ] && [ -d "/proc/$pid" ] || return 1
  tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$(pg_node_dir "$1")/data" || return 1
  echo "$pid"
}

# GET on a local URL, body on stdout; fails on a connection error (any status is fine).
http_get() { curl -sS -m "${2:-3}" "$1" 2>/dev/null; }
http_status() { curl -s -o /dev/null -m "${2:-3}" -w '%{http_code}' "$1" 2>/dev/null; }

# The node Patroni reports as primary (pg1 or pg2), if any.
primary_node() {
  local i
  for i in "${!PG_NODES[@]}"; do
    if [ "$(http_status "http://$HOST:${PG_API_PORTS[$i]}/primary" 2)" = 200 ]; then
      echo "${PG_NODES[$i]}"; return 0
    fi
  done
  return 1
}
