#!/usr/bin/env bash
# What the scheduler costs: SCHEDULES schedules with `every = "1s"` (zq.noop, scope cluster) on
# one node, measured for SECONDS after a warm-up. Prints the node's CPU (all its threads) and
# its workers' CPU, as a share of one core, and each tick's lateness: the time from the tick to
# the moment the node submitted its job, read from the journal (a tick's job id holds the tick,
# the job's created_ms the submission), p50, p99 and the largest. It also counts the ticks the
# window should have fired and the jobs it did, so a lost or doubled tick would show.
#
#   bench/schedules.sh [BIN_DIR] [SCHEDULES] [SECONDS] [WORKERS]
#
# Needs sqlite3 (Debian package sqlite3) to read the journal.
set -euo pipefail
bin=$(cd "${1:-build/bin}" && pwd)
schedules=${2:-1000}
seconds=${3:-30}
workers=${4:-2}

command -v sqlite3 >/dev/null || { echo "sqlite3 not found (apt-get install sqlite3)" >&2; exit 1; }
dir=$(mktemp -d /tmp/zq-schedules-XXXXXX)
for i in $(seq "$schedules"); do
    printf '[schedules.s%d]\ntask = "zq.noop"\nevery = "1s"\n' "$i"
done >"$dir/node.toml"

"$bin/zq-node" run --config "$dir/node.toml" --data "$dir/data" --name sched --log-level warn \
    --min-workers "$workers" --max-workers "$workers" &
node=$!
trap 'kill $node 2>/dev/null; wait $node 2>/dev/null; rm -rf "$dir"' EXIT
endpoint="ipc://$dir/data/node.sock"
for _ in $(seq 200); do "$bin/zq-node" status --node "$endpoint" >/dev/null 2>&1 && break; sleep 0.05; done

# CPU time of a process (all its threads) in clock ticks: utime + stime, fields 14 and 15 of
# /proc/PID/stat, read after the command name (which may hold spaces).
ticks_of() { sed -E 's/^.*\) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
worker_pids() { "$bin/zq-node" status --json --node "$endpoint" | grep -oE '"pid":[0-9]+' | cut -d: -f2 | grep -vx "$node"; }
cpu_of_workers() { local sum=0; for pid in $(worker_pids); do sum=$((sum + $(ticks_of "$pid"))); done; echo $sum; }

sleep 3  # warm-up: the first ticks, the workers up, the journal's pages made
hz=$(getconf CLK_TCK)
start_ms=$(date +%s%3N)
node_start=$(ticks_of "$node")
workers_start=$(cpu_of_workers)
sleep "$seconds"
node_end=$(ticks_of "$node")
workers_end=$(cpu_of_workers)
end_ms=$(date +%s%3N)
kill -TERM $node
wait $node || true
trap 'rm -rf "$dir"' EXIT

# Ticks strictly inside the window, whole seconds: (start, end].
first_tick=$(( (start_ms / 1000 + 1) * 1000 ))
last_tick=$(( end_ms / 1000 * 1000 - 1000 ))
expected=$(( ((last_tick - first_tick) / 1000 + 1) * schedules ))
sqlite3 "$dir/data/journal.db" "
    SELECT created_ms - CAST(strftime('%s', substr(id, -20, 19)) AS INTEGER) * 1000
    FROM jobs
    WHERE id LIKE 'sched:%'
      AND CAST(strftime('%s', substr(id, -20, 19)) AS INTEGER) * 1000 BETWEEN $first_tick AND $last_tick" |
    sort -n >"$dir/late.txt"
fired=$(wc -l <"$dir/late.txt")
elapsed_ms=$((end_ms - start_ms))
awk -v n="$fired" -v want="$expected" -v s="$schedules" -v hz="$hz" -v ms="$elapsed_ms" \
    -v node_cpu=$((node_end - node_start)) -v workers_cpu=$((workers_end - workers_start)) -v w="$workers" '
    { late[NR] = $1 }
    END {
        p50 = late[int(n * 0.50 + 0.5) > 0 ? int(n * 0.50 + 0.5) : 1]
        p99 = late[int(n * 0.99 + 0.5) > 0 ? int(n * 0.99 + 0.5) : 1]
        printf "%d schedules every 1s, %.1f s measured, %d workers\n", s, ms / 1000, w
        printf "ticks: %d jobs for %d expected\n", n, want
        printf "node CPU: %.1f%% of one core (%.0f us per tick and its job)\n", node_cpu / hz * 100000 / ms, node_cpu / hz * 1000000 / (ms / 1000 * s)
        printf "workers CPU: %.1f%% of one core\n", workers_cpu / hz * 100000 / ms
        printf "tick lateness: p50 %d ms, p99 %d ms, max %d ms\n", p50, p99, late[n]
    }' "$dir/late.txt"
