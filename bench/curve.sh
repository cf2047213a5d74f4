#!/usr/bin/env bash
# The cost of CURVE: issue 6's benchmark (zq-bench: no-op tasks, many in flight, then round
# trips one at a time) against a node over tcp on loopback, once in the clear and once with
# CURVE keys (the node's pair, a client pair on its client_keys list). Prints both reports
# and the throughput ratio. Each run uses a fresh node and data directory.
#
#   bench/curve.sh [BIN_DIR] [TASKS] [WINDOW] [WORKERS]
set -euo pipefail
bin=${1:-build/bin}
tasks=${2:-10000}
window=${3:-1000}
workers=${4:-2}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

results=$(mktemp -d /tmp/zq-curve-results-XXXXXX)
trap 'rm -rf "$results"' EXIT

# run_once MODE: MODE is "plain" or "curve"; writes zq-bench's JSON line to $results/MODE.
run_once() {
    local mode=$1 dir port endpoint
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
    "$bin/zq-bench" --node "$endpoint" "${client_args[@]}" -n "$tasks" --window "$window" --json >"$results/$mode"
}

run_once plain
run_once curve
plain=$(cat "$results/plain")
curve=$(cat "$results/curve")
echo "== tcp in the clear, $workers workers: $plain"
echo "== tcp with CURVE,   $workers workers: $curve"
python3 - "$plain" "$curve" <<'PY'
import json, sys
plain, curve = (json.loads(arg) for arg in sys.argv[1:3])
print("tasks/s     plain %8.0f  curve %8.0f  (curve/plain %.2f)" % (plain["tasks_per_s"], curve["tasks_per_s"], curve["tasks_per_s"] / plain["tasks_per_s"]))
print("p50 ms      plain %8.3f  curve %8.3f" % (plain["p50_ms"], curve["p50_ms"]))
print("p99 ms      plain %8.3f  curve %8.3f" % (plain["p99_ms"], curve["p99_ms"]))
PY
