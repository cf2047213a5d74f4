#!/usr/bin/env bash
# Serial uniqueness on one node: 1,000 no-op jobs spread over 10 keys with on_duplicate =
# serial (each key runs one job at a time, in submission order), all submitted at once, timed
# until the last one ended. Prints jobs/s; for comparison, the same jobs without keys.
#
#   bench/uniqueness.sh [BIN_DIR] [JOBS] [KEYS] [WORKERS]
set -euo pipefail
bin=${1:-build/bin}
jobs=${2:-1000}
keys=${3:-10}
workers=${4:-4}
source "$(dirname "$0")/node-lib.sh"

run() {
    local dir rate
    dir=$(mktemp -d /tmp/zq-uniq-XXXXXX)
    start_bench_node "$dir" "$bin" "$workers"
    rate=$("$bin/zq-bench" --node "$NODE_ENDPOINT" -n "$jobs" --window "$jobs" --round-trips 0 \
        "$@" --json | jq '.tasks_per_s')
    kill "$NODE_PID"
    wait "$NODE_PID" 2>/dev/null || true
    rm -rf "$dir"
    echo "$rate"
}

serial=$(run --keys "$keys" --on-duplicate serial)
plain=$(run)
printf 'serial uniqueness: %d jobs over %d keys, %d workers: %.0f jobs/s (without keys: %.0f jobs/s)\n' \
    "$jobs" "$keys" "$workers" "$serial" "$plain"
