#!/usr/bin/env bash
# The chaos soak: N jobs through a 3-node cluster while workers and nodes are SIGKILLed (and
# started again), nodes SIGSTOPped and SIGCONTed, and links between nodes cut in network
# namespaces, all at random from a seed. It then checks that every accepted job has exactly
# one terminal state, the same in two reads, that none ran twice, and that no worker, node
# or namespace is left, and prints one verdict line:
#
#   chaos: seed=7 jobs=300 kills=12 stops=5 cuts=3 lost=0 doubled=0 stuck=0 changed=0 orphans=0 PASS
#
#   bench/chaos.sh [--bin DIR] [--jobs N] [--seed S] [--rate PER_SEC] [--fault-interval SEC]
#                  [--settle SEC] [--no-network] [--keep]
#
# Defaults: build/bin, 200 jobs, seed 1, 8 jobs/s, a fault every 1.5 s on average. Links are
# cut only as root (namespaces); otherwise the soak says so and runs without cuts. A run that
# fails keeps its directory (node logs, the files each run appended its job id to) and names
# it. `make test` runs a short soak (tests/CMakeLists.txt, chaos_soak). The program is
# tools/zq-chaos; soak.hpp there describes the faults and the checks.
set -euo pipefail
bin=build/bin
args=()
while [ $# -gt 0 ]; do
    case $1 in
    --bin) bin=$2; shift 2 ;;
    *) args+=("$1"); shift ;;
    esac
done
for program in zq-chaos zq-node zq-worker; do
    if [ ! -x "$bin/$program" ]; then
        echo "chaos: $bin/$program not found: build first (make build), or give --bin DIR" >&2
        exit 2
    fi
done
exec "$bin/zq-chaos" --bin "$bin" "${args[@]}"
