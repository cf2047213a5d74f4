#!/usr/bin/env bash
# A single node's throughput under two builds, measured in turns (A B, then B A, then A B...)
# so that whatever else the machine does, and whichever of a pair runs first, weighs on both
# alike. Each run starts a fresh node and drives it with the same zq-bench (B's) and no-op
# tasks. Besides tasks/s, each run reports the node process's own CPU time per task (user +
# system, from /proc), which other load on the machine disturbs far less than wall-clock
# throughput. The medians of the runs are printed last. For checking that a change costs the
# node nothing.
#
#   bench/ab.sh A_BIN_DIR B_BIN_DIR [RUNS] [TASKS] [WORKERS] [WINDOW]
set -euo pipefail
a_bin=$1
b_bin=$2
runs=${3:-5}
tasks=${4:-20000}
workers=${5:-2}
window=${6:-1000}
ticks_per_second=$(getconf CLK_TCK)
source "$(dirname "$0")/node-lib.sh"

# Prints "TASKS_PER_S CPU_US_PER_TASK" for one run of the node in $1.
run_once() {
    local bin=$1 dir node rate cpu_ticks
    dir=$(mktemp -d /tmp/zq-ab-XXXXXX)
    start_bench_node "$dir" "$bin" "$workers"
    node=$NODE_PID
    rate=$("$b_bin/zq-bench" --node "$NODE_ENDPOINT" -n "$tasks" --window "$window" --round-trips 0 \
        --json | jq '.tasks_per_s')
    # utime and stime, fields 14 and 15 of /proc/PID/stat (the name in field 2 has no spaces).
    cpu_ticks=$(awk '{ print $14 + $15 }' "/proc/$node/stat")
    kill "$node"
    wait "$node" 2>/dev/null || true
    rm -rf "$dir"
    echo "$rate $(awk -v t="$cpu_ticks" -v hz="$ticks_per_second" -v n="$tasks" 'BEGIN { print t / hz * 1e6 / n }')"
}

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

a_rates=() b_rates=() a_cpu=() b_cpu=()
for run in $(seq "$runs"); do
    if ((run % 2)); then
        read -r a b <<< "$(run_once "$a_bin")"; a_rates+=("$a"); a_cpu+=("$b")
        read -r a b <<< "$(run_once "$b_bin")"; b_rates+=("$a"); b_cpu+=("$b")
    else
        read -r a b <<< "$(run_once "$b_bin")"; b_rates+=("$a"); b_cpu+=("$b")
        read -r a b <<< "$(run_once "$a_bin")"; a_rates+=("$a"); a_cpu+=("$b")
    fi
    printf 'run %d: A %.0f tasks/s, %.1f us CPU/task; B %.0f tasks/s, %.1f us CPU/task\n' "$run" \
        "${a_rates[-1]}" "${a_cpu[-1]}" "${b_rates[-1]}" "${b_cpu[-1]}"
done
printf 'median of %d runs of %d tasks, %d workers: A %.0f tasks/s, %.1f us CPU/task; B %.0f tasks/s, %.1f us CPU/task\n' \
    "$runs" "$tasks" "$workers" \
    "$(printf '%s\n' "${a_rates[@]}" | median)" "$(printf '%s\n' "${a_cpu[@]}" | median)" \
    "$(printf '%s\n' "${b_rates[@]}" | median)" "$(printf '%s\n' "${b_cpu[@]}" | median)"
