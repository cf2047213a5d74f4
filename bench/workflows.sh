#!/usr/bin/env bash
# What workflows cost: a chain of CHAIN no-op steps, RUNS times (the latency per step, p50 and
# p99), and a chord of CHORD no-op steps (the time to the chord callback), on one zq-node with
# WORKERS workers; then the same two shapes on Celery canvas (bench/peer_celery.py canvas) with
# a private redis-server and a prefork worker of WORKERS processes, when python3-celery,
# python3-redis and redis-server are installed (otherwise it says so and prints zq alone).
#
#   bench/workflows.sh [BIN_DIR] [CHAIN] [RUNS] [CHORD] [WORKERS]   (defaults: build/bin 100 20 10000 2)
#   env: PEER_REDIS_PORT=6399   WORKFLOWS_SKIP_CELERY=1
#
# zq figures:
#   per step (wall)   a chain's time from `zq-send workflow --wait` start to exit, / CHAIN,
#                     p50 and p99 over the RUNS chains (the same rule as Celery's row);
#   per step (node)   from the journal: the gaps between consecutive steps' ends (updated_ms,
#                     millisecond resolution), p50 and p99 over every step of every run;
#   chord             `zq-send workflow --wait` of the chord, wall time to the callback's
#                     result, and from the journal the time from acceptance to the callback's
#                     release (every member ended).
# Needs sqlite3 (Debian package sqlite3) to read the journal.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=$(cd "${1:-$root/build/bin}" && pwd)
chain_length=${2:-100}
runs=${3:-20}
chord_size=${4:-10000}
workers=${5:-2}
py=/usr/bin/python3   # Debian's python3, which python3-celery installs into
redis_port=${PEER_REDIS_PORT:-6399}

command -v sqlite3 >/dev/null || { echo "sqlite3 not found (apt-get install sqlite3)" >&2; exit 1; }
dir=$(mktemp -d /tmp/zq-workflows-XXXXXX)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$dir"
}
trap cleanup EXIT

# Nearest-rank percentile of the numbers on stdin (the rule of zq-bench).
percentile() { sort -g | awk -v f="$1" '{v[NR]=$1} END {r=int(f*NR); if (r<f*NR) r++; if (r<1) r=1; print v[r]}'; }

"$bin/zq-node" run --data "$dir/data" --name wf --log-level warn --min-workers "$workers" --max-workers "$workers" &
node=$!
pids+=("$node")
endpoint="ipc://$dir/data/node.sock"
for _ in $(seq 200); do "$bin/zq-node" status --node "$endpoint" >/dev/null 2>&1 && break; sleep 0.05; done

python3 - "$chain_length" "$chord_size" "$dir" <<'PY'
import json, sys
chain, chord, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
json.dump({"chain": [{"task": "zq.noop"}] * chain}, open(out + "/chain.json", "w"))
json.dump({"chord": {"group": [{"task": "zq.noop"}] * chord, "then": {"task": "zq.noop"}}},
          open(out + "/chord.json", "w"))
PY

"$bin/zq-send" workflow "$dir/chain.json" --node "$endpoint" --wait >/dev/null  # warm-up
: >"$dir/chain_ids"
: >"$dir/per_step_wall"
for _ in $(seq "$runs"); do
    start=$(date +%s%N)
    "$bin/zq-send" workflow "$dir/chain.json" --node "$endpoint" --wait --json >"$dir/chain.out"
    end=$(date +%s%N)
    python3 -c 'import json,sys; o=json.load(open(sys.argv[1])); assert o["state"]=="succeeded", o; print(o["id"])' \
        "$dir/chain.out" >>"$dir/chain_ids"
    awk -v s="$start" -v e="$end" -v n="$chain_length" 'BEGIN {printf "%.3f\n", (e - s) / 1e6 / n}' >>"$dir/per_step_wall"
done
start=$(date +%s%N)
"$bin/zq-send" workflow "$dir/chord.json" --node "$endpoint" --wait --timeout 600 --json >"$dir/chord.out"
end=$(date +%s%N)
chord_id=$(python3 -c 'import json,sys; o=json.load(open(sys.argv[1])); assert o["state"]=="succeeded", o["state"]; print(o["id"])' \
    "$dir/chord.out")
chord_wall=$(awk -v s="$start" -v e="$end" 'BEGIN {printf "%.3f", (e - s) / 1e9}')
kill -TERM "$node"; wait "$node" || true
pids=()

db="$dir/data/journal.db"
: >"$dir/gaps"
while read -r id; do
    sqlite3 "$db" "SELECT updated_ms FROM jobs WHERE id LIKE '$id/%' ORDER BY CAST(substr(id, length('$id') + 2) AS INTEGER)" |
        awk 'NR > 1 {print $1 - prev} {prev = $1}' >>"$dir/gaps"
done <"$dir/chain_ids"
callback=$(sqlite3 "$db" "SELECT (SELECT created_ms FROM jobs WHERE id = '$chord_id/$chord_size') - created_ms FROM jobs WHERE id = '$chord_id'")

echo "zq ($workers workers, journal_sync normal)"
echo "  chain of $chain_length no-op steps, $runs runs: per step (wall) p50 $(percentile 0.50 <"$dir/per_step_wall") ms, p99 $(percentile 0.99 <"$dir/per_step_wall") ms"
echo "  chain of $chain_length no-op steps, $runs runs: per step (node, from the journal) p50 $(percentile 0.50 <"$dir/gaps") ms, p99 $(percentile 0.99 <"$dir/gaps") ms"
echo "  chord of $chord_size no-op steps: callback result after $chord_wall s (zq-send wall time); callback released $callback ms after acceptance"

if [[ -n ${WORKFLOWS_SKIP_CELERY:-} ]]; then exit 0; fi
if ! "$py" -c "import celery, redis" 2>/dev/null || ! command -v redis-server >/dev/null; then
    echo "celery: not run (python3-celery, python3-redis or redis-server missing; apt-get install them)"
    exit 0
fi
mkdir -p "$dir/redis"
redis-server --bind 127.0.0.1 --port "$redis_port" --dir "$dir/redis" --save '' --appendonly no \
    --daemonize no --loglevel warning --logfile "$dir/redis/redis.log" &
pids+=("$!")
for _ in $(seq 200); do [[ $(redis-cli -h 127.0.0.1 -p "$redis_port" ping 2>/dev/null) == PONG ]] && break; sleep 0.05; done
export PEER_REDIS_URL="redis://127.0.0.1:$redis_port" PYTHONDONTWRITEBYTECODE=1
(cd "$root/bench" && exec "$py" -m celery -A peer_celery worker --concurrency "$workers" --pool prefork -Q bench \
    --loglevel warning >"$dir/worker.log" 2>&1) &
pids+=("$!")
"$py" "$root/bench/peer_celery.py" wait 60 2>"$dir/wait.log" || { tail "$dir/wait.log" "$dir/worker.log" >&2; exit 1; }
echo "celery + redis ($workers prefork workers)"
"$py" "$root/bench/peer_celery.py" canvas "$chain_length" "$runs" "$chord_size" | sed 's/^celery /  /'
