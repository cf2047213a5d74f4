#!/usr/bin/env bash
# What one task costs the node at saturation: system calls and CPU time per task, counted by
# `perf stat` on the node process (all its threads, zmq's I/O threads included) while
# zq-bench keeps WINDOW tasks in flight. No-op tasks, journal_sync at its default.
#
#   bench/node_cost.sh [BIN_DIR] [TASKS] [WORKERS|default] [WINDOW]
#
# Needs perf (Debian package linux-perf) and permission to read tracepoints (root, or
# kernel.perf_event_paranoid <= -1).
set -euo pipefail
bin=$(cd "${1:-build/bin}" && pwd)
tasks=${2:-50000}
workers=${3:-2}
window=${4:-1000}

command -v perf >/dev/null || { echo "perf not found (apt-get install linux-perf)" >&2; exit 1; }
dir=$(mktemp -d /tmp/zq-node-cost-XXXXXX)
node_args=(run --data "$dir/data" --name cost --log-level warn)
[[ $workers != default ]] && node_args+=(--min-workers "$workers" --max-workers "$workers")
"$bin/zq-node" "${node_args[@]}" &
node=$!
trap 'kill $node 2>/dev/null; wait $node 2>/dev/null; rm -rf "$dir"' EXIT
endpoint="ipc://$dir/data/node.sock"
for _ in $(seq 200); do "$bin/zq-node" status --node "$endpoint" >/dev/null 2>&1 && break; sleep 0.05; done
# A warm-up run, so that workers are up and the journal's pages exist.
"$bin/zq-bench" --node "$endpoint" -n 5000 --window "$window" --round-trips 0 --json >/dev/null

perf stat -x, -e raw_syscalls:sys_enter,task-clock,context-switches -p "$node" -o "$dir/perf.csv" &
perf_pid=$!
sleep 0.2
bench=$("$bin/zq-bench" --node "$endpoint" -n "$tasks" --window "$window" --round-trips 0 --json)
kill -INT $perf_pid
wait $perf_pid || true

syscalls=$(awk -F, '$3 == "raw_syscalls:sys_enter" {print $1}' "$dir/perf.csv")
cpu_ms=$(awk -F, '$3 == "task-clock" {print $1}' "$dir/perf.csv")
switches=$(awk -F, '$3 == "context-switches" {print $1}' "$dir/perf.csv")
rate=$(sed -E 's/.*"tasks_per_s":([0-9.]+).*/\1/' <<<"$bench")
awk -v n="$tasks" -v s="$syscalls" -v c="$cpu_ms" -v x="$switches" -v r="$rate" -v w="$workers" 'BEGIN {
    printf "workers %s, %d tasks: %.0f tasks/s; node: %.2f system calls, %.1f us CPU, %.2f context switches per task\n",
        w, n, r, s / n, c * 1000 / n, x / n
}'
