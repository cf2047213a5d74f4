# Sourced by the benchmark scripts: what they share about one zq-node.

# Starts a node on a fresh data directory under $1 with $3 workers (binaries in $2); sets
# NODE_PID and NODE_ENDPOINT and returns once the node answers status (or after 10 s).
start_bench_node() {
    local dir=$1 bin=$2 workers=$3
    "$bin/zq-node" run --data "$dir/data" --name bench --min-workers "$workers" --max-workers "$workers" \
        --log-level warn &
    NODE_PID=$!
    NODE_ENDPOINT="ipc://$dir/data/node.sock"
    for _ in $(seq 200); do
        "$bin/zq-node" status --node "$NODE_ENDPOINT" >/dev/null 2>&1 && return 0
        sleep 0.05
    done
}
