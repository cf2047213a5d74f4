#!/usr/bin/env bash
# Celery + Redis measured side by side with zq, in one run (see PEERS.md): no-op tasks,
# 2 prefork worker processes, one client on the same host.
#   1. Celery: a private redis-server (broker and result backend) on 127.0.0.1:$PEER_REDIS_PORT,
#      a worker "celery -A peer_celery worker --concurrency 2 --pool prefork -Q bench", then
#      bench/peer_celery.py: N tasks sent with apply_async and every result fetched (tasks/s),
#      then ROUND_TRIPS sequential delay().get() round trips (p50/p99 ms).
#   2. zq: a fresh zq-node started as bench/run.sh does (2 workers, journal_sync normal, data
#      in a temporary directory), driven by zq-bench -n N --window 1000.
# Everything runs on loopback; every process started here is stopped by pid and the temporary
# directory removed on exit, failure included.
#
#   bench/peer_celery.sh [BIN_DIR] [TASKS] [ROUND_TRIPS]
#
# Missing Debian packages (python3-celery, python3-redis, redis-server) are installed with
# apt-get. Debian's interpreter (/usr/bin/python3) is used so that they are found.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=$(cd "${1:-$root/build/bin}" && pwd)
tasks=${2:-10000}
round_trips=${3:-1000}
workers=2
window=1000
port=${PEER_REDIS_PORT:-6399}
py=/usr/bin/python3

# --- dependencies --------------------------------------------------------------------------
missing=()
for pkg in python3-celery python3-redis redis-server; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if ((${#missing[@]})); then
    echo "== installing ${missing[*]} with apt-get"
    as_root=()
    if [[ $(id -u) -ne 0 ]]; then
        command -v sudo >/dev/null || { echo "need root or sudo to install ${missing[*]}" >&2; exit 1; }
        as_root=(sudo)
    fi
    "${as_root[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
fi
[[ -x $py ]] || { echo "$py not found" >&2; exit 1; }
"$py" -c 'import celery, redis' || { echo "$py cannot import celery and redis" >&2; exit 1; }

# --- process bookkeeping -------------------------------------------------------------------
tmp=$(mktemp -d /tmp/zq-peer-celery-XXXXXX)
redis_pid= worker_pid= node_pid= step_pid=

# Runs one step in the background and waits for it, so that a TERM or INT to this script is
# handled at once (bash defers traps until a foreground command returns); cleanup stops it.
step() {
    "$@" &
    step_pid=$!
    local rc=0
    wait "$step_pid" || rc=$?
    step_pid=
    return "$rc"
}

# True while a process started here runs (a zombie, exited but not yet reaped, does not count).
alive() {
    ps -o stat= -p "$1" 2>/dev/null | grep -qv '^Z'
}

# Stops one process started here. Each runs as the leader of its own session and process group
# (via setsid): TERM to the process itself, up to 10 s for it to stop its children, then KILL
# to whatever is left in its group.
stop() {
    local pid=$1
    [[ -n $pid ]] || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do
        alive "$pid" || break
        sleep 0.1
    done
    kill -KILL -- "-$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop "$step_pid"
    stop "$node_pid"
    stop "$worker_pid"
    stop "$redis_pid"
    rm -rf "$tmp"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Resident memory in MB of a session (the process and everything it started).
group_rss_mb() {
    ps -o rss= -s "$1" 2>/dev/null | awk '{s += $1} END {printf "%.1f", s / 1024}'
}

# --- Celery + Redis --------------------------------------------------------------------------
if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "127.0.0.1:$port is already in use; set PEER_REDIS_PORT" >&2
    exit 1
fi
mkdir "$tmp/redis"
setsid redis-server --bind 127.0.0.1 --port "$port" --dir "$tmp/redis" --save '' --appendonly no \
    --daemonize no --loglevel warning --logfile "$tmp/redis/redis.log" &
redis_pid=$!
ready=
for _ in $(seq 200); do
    [[ $(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null) == PONG ]] && { ready=1; break; }
    alive "$redis_pid" || break
    sleep 0.05
done
[[ -n $ready ]] || { echo "redis-server did not start:" >&2; cat "$tmp/redis/redis.log" >&2; exit 1; }

export PEER_REDIS_URL="redis://127.0.0.1:$port"
export PYTHONDONTWRITEBYTECODE=1   # leave no __pycache__ in bench/
(cd "$root/bench" && exec setsid "$py" -m celery -A peer_celery worker --concurrency "$workers" \
    --pool prefork -Q bench --loglevel warning >"$tmp/celery-worker.log" 2>&1) &
worker_pid=$!
if ! step bash -c 'cd "$1" && exec "$2" peer_celery.py wait 60' _ "$root/bench" "$py" 2>"$tmp/celery-wait.log"; then
    echo "the Celery worker did not answer:" >&2
    tail -20 "$tmp/celery-wait.log" "$tmp/celery-worker.log" >&2
    exit 1
fi
celery_version=$("$py" -c 'import celery; print(celery.__version__)')
redis_version=$(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p')
echo "== Celery $celery_version + Redis $redis_version, $workers prefork workers (broker and results on 127.0.0.1:$port)"
step bash -c 'cd "$1" && exec "$2" peer_celery.py bench "$3" "$4"' _ "$root/bench" "$py" "$tasks" "$round_trips"
echo "celery memory: worker group (main + $workers children) $(group_rss_mb "$worker_pid") MB RSS, redis $(group_rss_mb "$redis_pid") MB RSS"
stop "$worker_pid"; worker_pid=
stop "$redis_pid"; redis_pid=

# --- zq ------------------------------------------------------------------------------------
mkdir "$tmp/zq"
printf 'journal_sync = "normal"\n' >"$tmp/zq/node.toml"
setsid "$bin/zq-node" run --data "$tmp/zq/data" --config "$tmp/zq/node.toml" --name bench \
    --min-workers "$workers" --max-workers "$workers" --log-level warn &
node_pid=$!
ready=
for _ in $(seq 200); do
    "$bin/zq-node" status --node "ipc://$tmp/zq/data/node.sock" >/dev/null 2>&1 && { ready=1; break; }
    alive "$node_pid" || break
    sleep 0.05
done
[[ -n $ready ]] || { echo "zq-node did not start" >&2; exit 1; }
echo "== zq, journal_sync=normal, $workers workers"
step "$bin/zq-bench" --node "ipc://$tmp/zq/data/node.sock" -n "$tasks" --window "$window"
echo "zq memory: node group (node + $workers workers) $(group_rss_mb "$node_pid") MB RSS"
