# Sourced by the benchmark scripts that run several nodes on this machine: a temporary
# directory removed on exit, N nodes in a full mesh (each given n0 as its peer, learning the
# rest from WELCOME), and helpers to reach them. Needs $bin set.
dir=$(mktemp -d /tmp/zq-mesh-XXXXXX)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT

endpoint() { echo "ipc://$dir/n$1/node.sock"; }
# Where peers link: the node's peer port (its client port would redirect them there).
peer_endpoint() { echo "ipc://$dir/n$1/peer.sock"; }
alive_peers() {
    "$bin/zq-node" peers --json --node "$(endpoint "$1")" 2>/dev/null | grep -o '"state":"alive"' | wc -l
}

# start_mesh NODES MAX_WORKERS: starts n0..n(NODES-1), their pids in $pids.
start_mesh() {
    local i peer
    for i in $(seq 0 $(($1 - 1))); do
        peer=()
        [ "$i" -gt 0 ] && peer=(--peer "$(peer_endpoint 0)")
        "$bin/zq-node" run --name "n$i" --data "$dir/n$i" --min-workers 1 --max-workers "$2" \
            --log-level warn "${peer[@]}" 2>>"$dir/log" &
        pids+=($!)
    done
}

# wait_mesh NODES: until every node sees the other NODES-1 alive.
wait_mesh() {
    local i
    for i in $(seq 0 $(($1 - 1))); do
        until [ "$(alive_peers "$i")" -eq $(($1 - 1)) ]; do sleep 0.1; done
    done
}
