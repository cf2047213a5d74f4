#!/usr/bin/env bash
# The cost of CURVE: issue 6's benchmark (zq-bench: no-op tasks, many in flight, then round
# trips one at a time) against a node over tcp on loopback, once in the clear and once with
# CURVE keys (the node's pair, a client pair on its client_keys list). The two alternate
# ROUNDS times, each run on a fresh node and data directory; it prints every report and the
# median of each figure, since a loaded machine moves single runs a lot.
#
#   bench/curve.sh [BIN_DIR] [TASKS] [WINDOW] [WORKERS] [ROUNDS]
set -euo pipefail
bin=${1:-build/bin}
tasks=${2:-10000}
window=${3:-1000}
workers=${4:-2}
rounds=${5:-3}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

results=$(mktemp -d /tmp/zq-curve-results-XXXXXX)
trap 'rm -rf "$results"' EXIT

# run_once MODE ROUND: MODE is "plain" or "curve"; writes zq-bench's JSON line to
# $results/MODE.ROUND.
run_once() {
    local mode=$1 round=$2 dir port endpoint
    dir=$(mktemp -d /tmp/zq-curve-bench-XXXXXX)
    port=$(free_port)
    endpoint="tcp://127.0.0.1:$port"
    local client_args=()
    : > "$dir/node.toml"
    if [[ $mode == curve ]]; then
        "$bin/zq-node" keygen "$dir/node" >/dev/null 2>&1
        "$bin/zq-node" keygen "$dir/client" >/dev/null 2>&1
        mkdir "$dir/clients"
        cp "$dir/client/public.key" "$dir/clients/bench.key"
        printf '[security]\nkey = "%s"\nclient_keys = "%s"\n' "$dir/node" "$dir/clients" > "$dir/node.toml"
        client_args=(--key "$dir/client" --server-key "$dir/node/public.key")
    fi
    "$bin/zq-node" run --data "$dir/data" --config "$dir/node.toml" --name bench --bind "$endpoint" \
        --min-workers "$workers" --max-workers "$workers" --log-level error >"$dir/node.log" 2>&1 &
    local node=$!
    trap 'kill $node 2>/dev/null; wait $node 2>/dev/null; rm -rf "$dir"' RETURN
    for _ in $(seq 200); do
        "$bin/zq-node" status --node "ipc://$dir/data/node.sock" >/dev/null 2>&1 && break
        sleep 0.05
    done
    "$bin/zq-bench" --node "$endpoint" "${client_args[@]}" -n "$tasks" --window "$window" --json >"$results/$mode.$round"
}

for round in $(seq "$rounds"); do
    run_once plain "$round"
    run_once curve "$round"
    echo "== round $round, $tasks tasks, window $window, $workers workers"
    echo "tcp in the clear: $(cat "$results/plain.$round")"
    echo "tcp with CURVE:   $(cat "$results/curve.$round")"
done
python3 - "$results" "$rounds" <<'PY'
import json, statistics, sys
results, rounds = sys.argv[1], int(sys.argv[2])
def load(mode):
    return [json.load(open(f"{results}/{mode}.{i}")) for i in range(1, rounds + 1)]
plain, curve = load("plain"), load("curve")
def median(runs, key):
    return statistics.median(run[key] for run in runs)
print(f"== median of {rounds} rounds")
p, c = median(plain, "tasks_per_s"), median(curve, "tasks_per_s")
print("tasks/s  plain %8.0f  curve %8.0f  (curve/plain %.2f)" % (p, c, c / p))
for key in ("p50_ms", "p99_ms"):
    print("%-8s plain %8.3f  curve %8.3f" % (key.replace("_ms", " ms"), median(plain, key), median(curve, key)))
PY
