#!/usr/bin/env bash
# End-to-end figures anyone can rerun: starts a fresh node on a temporary data directory,
# drives it with zq-bench (no-op tasks: submit -> journaled -> worker -> result back), once
# with journal_sync = normal and once with full, and prints zq-bench's report.
#
#   bench/run.sh [BIN_DIR] [TASKS] [WINDOW] [WORKERS]
set -euo pipefail
bin=${1:-build/bin}
tasks=${2:-10000}
window=${3:-1000}
workers=${4:-2}

run_once() {
    local sync=$1 dir
    dir=$(mktemp -d /tmp/zq-bench-XXXXXX)
    printf 'journal_sync = "%s"\n' "$sync" > "$dir/node.toml"
    "$bin/zq-node" run --data "$dir/data" --config "$dir/node.toml" --name bench \
        --min-workers "$workers" --max-workers "$workers" --log-level warn &
    local node=$!
    trap 'kill $node 2>/dev/null; wait $node 2>/dev/null; rm -rf "$dir"' RETURN
    for _ in $(seq 100); do
        "$bin/zq-node" status --node "ipc://$dir/data/node.sock" >/dev/null 2>&1 && break
        sleep 0.05
    done
    echo "== journal_sync=$sync, $workers workers"
    "$bin/zq-bench" --node "ipc://$dir/data/node.sock" -n "$tasks" --window "$window"
}

run_once normal
run_once full
