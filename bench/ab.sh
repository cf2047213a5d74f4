#!/usr/bin/env bash
# A single node's throughput under two builds, measured in turns: a fresh node of build A,
# then one of build B, then A again... so that whatever else the machine does weighs on both
# alike. Each run drives the node with the same zq-bench (B's) and no-op tasks, and the
# medians of the runs are printed last. For checking that a change costs the node nothing.
#
#   bench/ab.sh A_BIN_DIR B_BIN_DIR [RUNS] [TASKS] [WORKERS] [WINDOW]
set -euo pipefail
a_bin=$1
b_bin=$2
runs=${3:-5}
tasks=${4:-20000}
workers=${5:-2}
window=${6:-1000}

# Prints tasks/s of one run of the node in $1.
run_once() {
    local bin=$1 dir node rate
    dir=$(mktemp -d /tmp/zq-ab-XXXXXX)
    "$bin/zq-node" run --data "$dir/data" --name bench --min-workers "$workers" --max-workers "$workers" \
        --log-level warn &
    node=$!
    for _ in $(seq 200); do
        "$bin/zq-node" status --node "ipc://$dir/data/node.sock" >/dev/null 2>&1 && break
        sleep 0.05
    done
    rate=$("$b_bin/zq-bench" --node "ipc://$dir/data/node.sock" -n "$tasks" --window "$window" --round-trips 0 \
        --json | jq '.tasks_per_s')
    kill "$node"
    wait "$node" 2>/dev/null || true
    rm -rf "$dir"
    echo "$rate"
}

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

a_rates=() b_rates=()
for run in $(seq "$runs"); do
    a_rates+=("$(run_once "$a_bin")")
    b_rates+=("$(run_once "$b_bin")")
    printf 'run %d: A %.0f tasks/s, B %.0f tasks/s\n' "$run" "${a_rates[-1]}" "${b_rates[-1]}"
done
printf 'median of %d runs of %d tasks, %d workers: A %.0f tasks/s, B %.0f tasks/s\n' "$runs" "$tasks" "$workers" \
    "$(printf '%s\n' "${a_rates[@]}" | median)" "$(printf '%s\n' "${b_rates[@]}" | median)"
