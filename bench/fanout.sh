#!/usr/bin/env bash
# Broadcast figures: starts N nodes on this machine in a full mesh, waits until each sees the
# others alive, then times broadcasts from the first node with zq-bench --broadcast (each one
# from the call until every node has reported its outcome), and prints each node's
# received/repaired/lost counts.
#
#   bench/fanout.sh [BIN_DIR] [NODES] [BROADCASTS]
set -euo pipefail
bin=${1:-build/bin}
nodes=${2:-3}
broadcasts=${3:-500}
source "$(dirname "$0")/mesh-lib.sh"

start_mesh "$nodes" 2
wait_mesh "$nodes"

echo "== $nodes nodes, $broadcasts broadcasts of zq.noop from n0, one at a time"
"$bin/zq-bench" --broadcast --node "$(endpoint 0)" -n "$broadcasts"
for i in $(seq 1 $((nodes - 1))); do
    "$bin/zq-node" status --json --node "$(endpoint "$i")" |
        python3 -c 'import json, sys; s = json.load(sys.stdin); p = s["fanout"]["publishers"]["n0"]; print(s["name"], "from n0: received", p["received"], "repaired", p["repaired"], "lost", p["lost"])'
done

# What the event stream and the tap cost on the task path: zq-bench on n0 (its peers take no
# part: every job runs on n0), with nobody subscribed, with zq-trace following its events, and
# with its tap on as well.
bench() {
    "$bin/zq-bench" --node "$(endpoint 0)" -n 20000 --window 1000 --json |
        python3 -c 'import json, sys; r = json.load(sys.stdin); print("%8.0f tasks/s   p50 %.3f ms   p99 %.3f ms" % (r["tasks_per_s"], r["p50_ms"], r["p99_ms"]))'
}
echo "== 20000 zq.noop on n0"
printf '%-36s' "nobody subscribed:"; bench
"$bin/zq-trace" --node "$(endpoint 0)" --events-only >/dev/null &
trace=$!
pids+=("$trace")
sleep 1  # zq-trace subscribes in the background; a benchmark can afford to let it settle
printf '%-36s' "zq-trace following the events:"; bench
"$bin/zq-node" trace on --node "$(endpoint 0)" >/dev/null
printf '%-36s' "and the tap on:"; bench
