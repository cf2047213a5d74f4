#!/usr/bin/env bash
# Membership at scale: starts N nodes on this machine in a full mesh (each is given the first
# node as its peer and learns the rest from WELCOME), waits until every node sees the other
# N-1 alive, then prints what each node spends at idle (CPU over a window, resident memory),
# and how long after a SIGKILL of one node every other node sees it lost.
#
#   bench/mesh.sh [BIN_DIR] [NODES] [IDLE_SECONDS]
set -euo pipefail
bin=${1:-build/bin}
nodes=${2:-20}
idle=${3:-10}
source "$(dirname "$0")/mesh-lib.sh"

lost_seen() {
    "$bin/zq-node" peers --json --node "$(endpoint "$1")" 2>/dev/null |
        grep -o "\"name\":\"n$2\",\"queues\":[^]]*\],\"state\":\"lost\"" | wc -l
}
calc() { awk "BEGIN { printf \"%.3f\", $1 }"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

start_mesh "$nodes" 1

start=$(date +%s.%N)
wait_mesh "$nodes"
echo "mesh of $nodes nodes formed in $(calc "$(date +%s.%N) - $start") s"

ticks_per_second=$(getconf CLK_TCK)
declare -a before
for i in "${!pids[@]}"; do before[$i]=$(cpu_ticks "${pids[$i]}"); done
sleep "$idle"
total_ticks=0
total_rss=0
for i in "${!pids[@]}"; do
    total_ticks=$((total_ticks + $(cpu_ticks "${pids[$i]}") - before[$i]))
    total_rss=$((total_rss + $(awk '/VmRSS/ {print $2}' "/proc/${pids[$i]}/status")))
done
echo "idle over ${idle}s: $(calc "100 * $total_ticks / $ticks_per_second / $idle / $nodes")% CPU per node" \
     "(all $nodes: $(calc "100 * $total_ticks / $ticks_per_second / $idle")% of one core)," \
     "$((total_rss / nodes)) kB resident per node (workers not counted)"

victim=$((nodes - 1))
kill -9 "${pids[$victim]}"
killed=$(date +%s.%N)
for i in $(seq 0 $((victim - 1))); do
    until [ "$(lost_seen "$i" "$victim")" -eq 1 ]; do sleep 0.05; done
done
echo "SIGKILL of n$victim seen lost by all $((nodes - 1)) others after $(calc "$(date +%s.%N) - $killed") s" \
     "(heartbeat_interval 1 s x liveness 3)"
