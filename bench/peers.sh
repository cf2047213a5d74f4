#!/usr/bin/env bash
# zq, Gearman and Celery + Redis side by side in ONE run, printed as ONE markdown table with
# ratios (see PEERS.md). No-op tasks, 2 worker processes for each system, one client on the
# same host, every result sent back to the client. The systems run one after the other, each
# alone on the machine: each one's servers are stopped before the next one starts.
#
#   bench/peers.sh [BIN_DIR] [TASKS] [ROUND_TRIPS]
#     BIN_DIR      where zq-node, zq-worker and zq-bench are (default: build/bin)
#     TASKS        tasks in the throughput phase (default 20000), 1000 in flight
#     ROUND_TRIPS  sequential round trips for p50/p99 (default 2000)
#   env: PEERS_SKIP=celery,gearman,zq,zq-default  systems to leave out (comma list)
#        PEERS_CELERY_TASKS=5000  Celery's throughput tasks (at ~660 tasks/s 20,000 take 30 s)
#        PEERS_WINDOW=1000  PEERS_BURST=10000
#        PEER_REDIS_PORT=6399  PEER_GEARMAN_PORT=4739  (private servers, 127.0.0.1 only)
#
# Rows and what each measures:
#   zq                 a fresh zq-node (temporary data directory, default config, so journal_sync
#                      "normal", ipc:// socket only) with --min-workers 2 --max-workers 2 and the
#                      stock zq-worker, driven by zq-bench --json: -n TASKS --window 1000
#                      --round-trips 0 gives tasks/s; a second run, -n ROUND_TRIPS --round-trips
#                      ROUND_TRIPS, gives p50/p99 from its ROUND_TRIPS sequential round trips
#                      (that run's throughput phase of ROUND_TRIPS tasks is ignored).
#   zq (default pool)  the same node without --min/--max-workers: the default pool (4 to 8).
#   Gearman            gearmand on 127.0.0.1:$PEER_GEARMAN_PORT with its default in-memory queue,
#                      2 worker processes and the client from bench/peer_gearman.cpp (libgearman,
#                      compiled here into the temporary directory): foreground jobs added with
#                      gearman_client_add_task and run with gearman_client_run_tasks in batches
#                      of 1000 (every result comes back), then sequential gearman_client_do.
#   Celery + Redis     redis-server on 127.0.0.1:$PEER_REDIS_PORT (broker and result backend, no
#                      persistence), "celery worker --concurrency 2 --pool prefork", and
#                      bench/peer_celery.py: PEERS_CELERY_TASKS tasks sent with apply_async, then
#                      every result fetched; then sequential delay().get().
# Memory is resident set size (RSS, from ps) summed over the server and its workers; the client
# is not counted:
#   zq:      zq-node + its zq-worker processes (2; 4 to 8 with the default pool)
#   Gearman: gearmand + the 2 gearman worker processes
#   Celery:  redis-server + the celery worker's main process + its 2 prefork children
# "idle" is taken 1 s after the system answered its first task (zq: its first status request),
# "loaded" is the peak of samples taken every 0.25 s through the throughput, latency and burst
# phases and once after them.
# Burst: PEERS_BURST (10,000) tasks submitted at once, timed from the first submission until the
# last result is back. zq-bench has no burst mode; `zq-bench -n 10000 --window 10000
# --round-trips 0` is one in effect (every task posted before the first reply is read).
# Gearman: one batch of 10,000 foreground jobs; Celery: 10,000 apply_async, then every result.
#
# Missing Debian packages (python3-celery, python3-redis, redis-server, gearman-job-server,
# libgearman-dev) are installed with apt-get; Celery runs on Debian's /usr/bin/python3. Every
# server listens on 127.0.0.1 only (zq on an ipc:// socket); every process started here is
# stopped by pid and the temporary directory removed on exit, on failure and on Ctrl-C too.
# Progress goes to stderr, the table to stdout.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=${1:-$root/build/bin}
tasks=${2:-20000}
round_trips=${3:-2000}
window=${PEERS_WINDOW:-1000}
burst=${PEERS_BURST:-10000}
celery_tasks=${PEERS_CELERY_TASKS:-5000}
redis_port=${PEER_REDIS_PORT:-6399}
gearman_port=${PEER_GEARMAN_PORT:-4739}
skip=",${PEERS_SKIP:-},"
workers=2
py=/usr/bin/python3

say() { echo "$*" >&2; }
die() { echo "peers.sh: $*" >&2; exit 1; }
wanted() { [[ $skip != *",$1,"* ]]; }

for n in "$tasks" "$round_trips" "$window" "$burst" "$celery_tasks" "$redis_port" "$gearman_port"; do
    [[ $n =~ ^[1-9][0-9]*$ ]] || die "not a positive number: $n"
done
if wanted zq || wanted zq-default; then
    bin=$(cd "$bin" 2>/dev/null && pwd) || die "no such directory: ${1:-$root/build/bin}"
    for b in zq-node zq-worker zq-bench; do [[ -x $bin/$b ]] || die "$bin/$b not found (build first)"; done
fi

# --- dependencies --------------------------------------------------------------------------
need=()
wanted celery && need+=(python3-celery python3-redis redis-server)
wanted gearman && need+=(gearman-job-server libgearman-dev)
missing=()
for pkg in "${need[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if ((${#missing[@]})); then
    say "== installing ${missing[*]} with apt-get"
    as_root=()
    if [[ $(id -u) -ne 0 ]]; then
        command -v sudo >/dev/null || die "need root or sudo to install ${missing[*]}"
        as_root=(sudo)
    fi
    "${as_root[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
fi
if wanted celery; then
    [[ -x $py ]] || die "$py not found"
    "$py" -c 'import celery, redis' || die "$py cannot import celery and redis"
fi
if wanted gearman; then
    command -v g++ >/dev/null || die "g++ is needed to build bench/peer_gearman.cpp"
fi

# --- process bookkeeping -------------------------------------------------------------------
tmp=$(mktemp -d /tmp/zq-peers-XXXXXX)
started=()      # every long-running process started here (each a session leader via setsid)
step_pid=
sampler_pid=

# Runs one step in the background and waits for it, so that a TERM or INT to this script is
# handled at once (bash defers traps until a foreground command returns); cleanup stops it.
step() {
    "$@" &
    step_pid=$!
    local rc=0
    wait "$step_pid" || rc=$?
    step_pid=
    return "$rc"
}

# True while a process started here runs (a zombie, exited but not yet reaped, does not count).
alive() {
    ps -o stat= -p "$1" 2>/dev/null | grep -qv '^Z'
}

# Stops one process started here: TERM to the process itself, up to 10 s for it to stop its
# children, then KILL to it and, with "group", to whatever is left in its process group (for
# the servers, which setsid made leaders of their own).
stop() {
    local pid=$1 group=${2:-}
    [[ -n $pid ]] || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do
        alive "$pid" || break
        sleep 0.1
    done
    [[ -z $group ]] || kill -KILL -- "-$pid" 2>/dev/null || true
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# Starts a long-running process as the leader of its own session; its pid goes to $started_pid
# and to the list cleanup stops.
start() {
    setsid "$@" &
    started_pid=$!
    started+=("$started_pid")
}

stop_all() {
    local i
    for ((i = ${#started[@]} - 1; i >= 0; i--)); do stop "${started[i]}" group; done
    started=()
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop "$step_pid"
    stop "$sampler_pid"
    stop_all
    rm -rf "$tmp"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

port_free() {
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Resident memory in kB of sessions (comma list of session ids): each process and all it started.
sessions_rss_kb() {
    ps -o rss= -s "$1" 2>/dev/null | awk '{s += $1} END {print s + 0}'
}

# Samples the summed RSS of the sessions every 0.25 s and keeps the peak in FILE.
start_sampler() {
    local sessions=$1 file=$2
    echo 0 >"$file"
    (
        peak=0
        while :; do
            now=$(sessions_rss_kb "$sessions")
            if ((now > peak)); then peak=$now; echo "$peak" >"$file"; fi
            sleep 0.25
        done
    ) &
    sampler_pid=$!
}

# Stops the sampler and prints the peak in kB, with one last sample.
stop_sampler() {
    local sessions=$1 file=$2 now peak
    stop "$sampler_pid"
    sampler_pid=
    now=$(sessions_rss_kb "$sessions")
    peak=$(cat "$file")
    echo $((now > peak ? now : peak))
}

kb_to_mb() { awk -v kb="$1" 'BEGIN {printf "%.1f", kb / 1024}'; }

# One field of a flat JSON object (numbers only, as zq-bench and the peer clients print them).
json_field() {
    sed -n "s/.*\"$2\"[[:space:]]*:[[:space:]]*\\([-0-9.eE+]*\\).*/\\1/p" "$1" | head -1
}

# Thousands separators, for whole numbers.
group() { awk -v n="$1" 'BEGIN {s = sprintf("%.0f", n); while (s ~ /[0-9][0-9][0-9][0-9]/) sub(/[0-9][0-9][0-9]([,]|$)/, ",&", s); print s}'; }
ms() { awk -v v="$1" 'BEGIN {f = v < 1 ? "%.3f" : v < 100 ? "%.2f" : "%.0f"; printf f, v}'; }
secs() { awk -v v="$1" 'BEGIN {f = v < 10 ? "%.2f" : "%.1f"; printf f, v}'; }
ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN {
        if (b <= 0) { print "—"; exit }
        r = a / b
        d = r >= 100 ? 0 : r >= 10 ? 1 : r >= 0.1 ? 2 : 1 - int(log(r) / log(10) - 1)  # 0.013, 0.0042
        printf "%.*f×", d, r }'
}

# Results, by system id.
declare -A label tps p50 p99 rt_samples idle_mb loaded_mb burst_s
order=()

# Keeps one system's row: record_row ID LABEL THROUGHPUT_JSON LATENCY_JSON BURST_JSON.
record_row() {
    local id=$1
    label[$id]=$2
    tps[$id]=$(json_field "$3" tasks_per_s)
    p50[$id]=$(json_field "$4" p50_ms)
    p99[$id]=$(json_field "$4" p99_ms)
    rt_samples[$id]=$(json_field "$4" latency_samples)
    burst_s[$id]=$(json_field "$5" seconds)
    order+=("$id")
    report "$id"
}

report() {
    say "   $(group "${tps[$1]}") tasks/s, p50 $(ms "${p50[$1]}") ms, p99 $(ms "${p99[$1]}") ms," \
        "burst $(secs "${burst_s[$1]}") s, RSS ${idle_mb[$1]} MB idle, ${loaded_mb[$1]} MB loaded"
}

# Checks a client's JSON report: present, no failures.
check_report() {
    local file=$1 what=$2 failed
    failed=$(json_field "$file" failed)
    [[ -n $failed ]] || die "$what printed no report: $(cat "$file")"
    [[ $failed == 0 ]] || die "$what: $failed tasks failed: $(cat "$file")"
}

# --- zq --------------------------------------------------------------------------------------
run_zq() {
    local id=$1 name=$2
    shift 2
    local dir=$tmp/$id node sock
    mkdir -p "$dir"
    say "== $name: zq-node ${*:-with the default pool} (data in $dir)"
    start "$bin/zq-node" run --data "$dir/data" --name bench "$@" --log-level warn
    node=$started_pid
    sock="ipc://$dir/data/node.sock"
    local ready=
    for _ in $(seq 200); do
        "$bin/zq-node" status --node "$sock" >/dev/null 2>&1 && { ready=1; break; }
        alive "$node" || break
        sleep 0.05
    done
    [[ -n $ready ]] || die "zq-node did not start"
    sleep 1
    idle_mb[$id]=$(kb_to_mb "$(sessions_rss_kb "$node")")
    start_sampler "$node" "$dir/rss.peak"

    step "$bin/zq-bench" --node "$sock" -n "$tasks" --window "$window" --round-trips 0 --json \
        >"$dir/bench.json" || die "zq-bench failed: $(cat "$dir/bench.json")"
    check_report "$dir/bench.json" "zq-bench"
    # The latency phase runs min(N, --round-trips) round trips, so N = ROUND_TRIPS gives them all.
    local latency=$dir/latency.json
    step "$bin/zq-bench" --node "$sock" -n "$round_trips" --window "$window" --round-trips "$round_trips" \
        --json >"$latency" || die "zq-bench failed: $(cat "$latency")"
    check_report "$latency" "zq-bench"
    step "$bin/zq-bench" --node "$sock" -n "$burst" --window "$burst" --round-trips 0 --json >"$dir/burst.json" ||
        die "zq-bench (burst) failed: $(cat "$dir/burst.json")"
    check_report "$dir/burst.json" "zq-bench (burst)"
    loaded_mb[$id]=$(kb_to_mb "$(stop_sampler "$node" "$dir/rss.peak")")
    stop_all

    record_row "$id" "$name" "$dir/bench.json" "$latency" "$dir/burst.json"
}

# --- Gearman ---------------------------------------------------------------------------------
# How many workers gearmand has for a function, from its admin "status" (FUNCTION TOTAL RUNNING
# AVAILABLE, tab-separated, then a line with a dot).
gearman_workers() {
    (
        local fn available n=0
        exec 3<>"/dev/tcp/127.0.0.1/$1" || { echo 0; exit; }
        echo status >&3
        while IFS=$'\t' read -r -t 2 fn _ _ available <&3; do
            [[ $fn == . ]] && break
            [[ $fn == "$2" ]] && n=$available
        done
        echo "$n"
    ) 2>/dev/null
}

run_gearman() {
    local id=gearman dir=$tmp/gearman gearmand flags
    mkdir -p "$dir"
    port_free "$gearman_port" || die "127.0.0.1:$gearman_port is already in use; set PEER_GEARMAN_PORT"
    flags=$(pkg-config --cflags --libs gearmand 2>/dev/null || pkg-config --cflags --libs libgearman 2>/dev/null ||
        echo -lgearman)
    # shellcheck disable=SC2086 # flags are words
    g++ -std=c++17 -O2 -o "$dir/peer_gearman" "$root/bench/peer_gearman.cpp" $flags ||
        die "could not build bench/peer_gearman.cpp"
    : >"$dir/gearmand.conf"
    say "== Gearman: gearmand on 127.0.0.1:$gearman_port (in-memory queue), $workers workers"
    start gearmand --port "$gearman_port" --listen 127.0.0.1 --config-file "$dir/gearmand.conf" \
        --pid-file "$dir/gearmand.pid" --log-file "$dir/gearmand.log" --verbose ERROR
    gearmand=$started_pid
    for _ in $(seq 200); do
        port_free "$gearman_port" || break
        alive "$gearmand" || break
        sleep 0.05
    done
    port_free "$gearman_port" && { cat "$dir/gearmand.log" >&2; die "gearmand did not start"; }
    local sessions=$gearmand
    for i in $(seq "$workers"); do
        start "$dir/peer_gearman" worker "$gearman_port" 2>"$dir/worker$i.log"
        sessions+=",$started_pid"
    done
    step "$dir/peer_gearman" wait "$gearman_port" 30 || {
        cat "$dir/gearmand.log" "$dir"/worker*.log >&2
        die "gearmand or its workers did not answer"
    }
    # Every worker registered: gearmand's admin "status" lists noop with its available workers.
    local available=0
    for _ in $(seq 100); do
        available=$(gearman_workers "$gearman_port" noop)
        ((available >= workers)) && break
        sleep 0.1
    done
    ((available >= workers)) || die "only $available of $workers gearman workers registered"
    sleep 1
    idle_mb[$id]=$(kb_to_mb "$(sessions_rss_kb "$sessions")")
    start_sampler "$sessions" "$dir/rss.peak"

    step "$dir/peer_gearman" bench "$gearman_port" "$tasks" "$window" "$round_trips" >"$dir/bench.json" ||
        die "the Gearman client failed: $(cat "$dir/bench.json")"
    check_report "$dir/bench.json" "the Gearman client"
    step "$dir/peer_gearman" bench "$gearman_port" "$burst" "$burst" 0 >"$dir/burst.json" ||
        die "the Gearman client (burst) failed: $(cat "$dir/burst.json")"
    check_report "$dir/burst.json" "the Gearman client (burst)"
    loaded_mb[$id]=$(kb_to_mb "$(stop_sampler "$sessions" "$dir/rss.peak")")
    stop_all

    record_row "$id" Gearman "$dir/bench.json" "$dir/bench.json" "$dir/burst.json"
}

# --- Celery + Redis ----------------------------------------------------------------------------
run_celery() {
    local id=celery dir=$tmp/celery redis worker
    mkdir -p "$dir/redis"
    port_free "$redis_port" || die "127.0.0.1:$redis_port is already in use; set PEER_REDIS_PORT"
    say "== Celery + Redis: redis-server on 127.0.0.1:$redis_port, $workers prefork workers"
    start redis-server --bind 127.0.0.1 --port "$redis_port" --dir "$dir/redis" --save '' --appendonly no \
        --daemonize no --loglevel warning --logfile "$dir/redis/redis.log"
    redis=$started_pid
    local ready=
    for _ in $(seq 200); do
        [[ $(redis-cli -h 127.0.0.1 -p "$redis_port" ping 2>/dev/null) == PONG ]] && { ready=1; break; }
        alive "$redis" || break
        sleep 0.05
    done
    [[ -n $ready ]] || { cat "$dir/redis/redis.log" >&2; die "redis-server did not start"; }

    export PEER_REDIS_URL="redis://127.0.0.1:$redis_port"
    export PYTHONDONTWRITEBYTECODE=1   # leave no __pycache__ in bench/
    (cd "$root/bench" && exec setsid "$py" -m celery -A peer_celery worker --concurrency "$workers" \
        --pool prefork -Q bench --loglevel warning >"$dir/worker.log" 2>&1) &
    worker=$!
    started+=("$worker")
    if ! step "$py" "$root/bench/peer_celery.py" wait 60 2>"$dir/wait.log"; then
        tail -20 "$dir/wait.log" "$dir/worker.log" >&2
        die "the Celery worker did not answer"
    fi
    local sessions="$redis,$worker"
    sleep 1
    idle_mb[$id]=$(kb_to_mb "$(sessions_rss_kb "$sessions")")
    start_sampler "$sessions" "$dir/rss.peak"

    step "$py" "$root/bench/peer_celery.py" bench "$celery_tasks" "$round_trips" --json >"$dir/bench.json" \
        || die "the Celery client failed: $(cat "$dir/bench.json")"
    check_report "$dir/bench.json" "the Celery client"
    step "$py" "$root/bench/peer_celery.py" bench "$burst" 0 --json >"$dir/burst.json" \
        || die "the Celery client (burst) failed: $(cat "$dir/burst.json")"
    check_report "$dir/burst.json" "the Celery client (burst)"
    loaded_mb[$id]=$(kb_to_mb "$(stop_sampler "$sessions" "$dir/rss.peak")")
    stop_all

    record_row "$id" "Celery + Redis" "$dir/bench.json" "$dir/bench.json" "$dir/burst.json"
}

# --- run -------------------------------------------------------------------------------------
# (if, not &&: a function called on the left of && runs with set -e off)
if wanted zq; then run_zq zq "zq" --min-workers "$workers" --max-workers "$workers"; fi
if wanted zq-default; then run_zq zqdef "zq (default pool)"; fi
if wanted gearman; then run_gearman; fi
if wanted celery; then run_celery; fi
((${#order[@]})) || die "every system was skipped"

# --- table -----------------------------------------------------------------------------------
versions=
if [[ -n ${label[zq]:-}${label[zqdef]:-} ]]; then
    # The commit of the work tree that holds BIN_DIR (else this script's), as the binaries' best guess.
    versions+=", zq at $(git -C "$bin" log -1 --format=%h 2>/dev/null || git -C "$root" log -1 --format=%h 2>/dev/null ||
        echo "an unknown commit")"
fi
if [[ -n ${label[gearman]:-} ]]; then
    versions+=", Gearman $(gearmand --version 2>/dev/null | awk 'NF {print $2; exit}' | sed 's/+.*//')"
fi
if [[ -n ${label[celery]:-} ]]; then
    versions+=", Celery $("$py" -c 'import celery; print(celery.__version__)')"
    versions+=" + Redis $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p')"
fi
samples_note='' pool_note='' throughput_note='' rss_note=''
for id in "${order[@]}"; do samples_note+=", ${label[$id]} ${rt_samples[$id]}"; done
[[ -n ${label[zqdef]:-} ]] && pool_note=" (zq's default pool: 4 to 8)"
[[ -n ${label[zq]:-}${label[zqdef]:-} ]] && rss_note+="; zq-node + its zq-worker processes"
if [[ -n ${label[gearman]:-} ]]; then
    throughput_note+="; Gearman: in batches of $(group "$window")"
    rss_note+="; gearmand + 2 workers"
fi
if [[ -n ${label[celery]:-} ]]; then
    throughput_note+="; Celery: $(group "$celery_tasks") tasks, all sent before the first result is read"
    rss_note+="; redis-server + Celery's main process and its 2 children"
fi
[[ -n $throughput_note ]] && throughput_note=" (${throughput_note#; })"

echo "${versions#, }; $(nproc) cores, $(date -u +%Y-%m-%d)."
echo "No-op tasks, 2 worker processes each$pool_note, one client on the same host, results back."
echo "Throughput: $(group "$tasks") tasks, $(group "$window") in flight$throughput_note."
echo "Round trips: sequential, one task in flight (samples: ${samples_note#, })."
echo "RSS: server and its workers summed (${rss_note#; }), idle and peak under load."
echo "Burst: $(group "$burst") tasks submitted at once, timed until the last result is back."
echo
echo "| system | tasks/s | p50 ms | p99 ms | idle RSS MB | loaded RSS MB | $(group "$burst") burst drain s |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for id in "${order[@]}"; do
    echo "| ${label[$id]} | $(group "${tps[$id]}") | $(ms "${p50[$id]}") | $(ms "${p99[$id]}") |" \
        "${idle_mb[$id]} | ${loaded_mb[$id]} | $(secs "${burst_s[$id]}") |"
done

zqs=() peers=()
for id in "${order[@]}"; do
    case $id in zq | zqdef) zqs+=("$id") ;; *) peers+=("$id") ;; esac
done
if ((${#zqs[@]} && ${#peers[@]})); then
    echo
    echo "zq / peer (tasks/s above 1×, p99 and burst below 1× are in zq's favour):"
    echo
    echo "| zq / peer | tasks/s | p99 | burst drain |"
    echo "|---|---:|---:|---:|"
    for z in "${zqs[@]}"; do
        for p in "${peers[@]}"; do
            echo "| ${label[$z]} / ${label[$p]} | $(ratio "${tps[$z]}" "${tps[$p]}") |" \
                "$(ratio "${p99[$z]}" "${p99[$p]}") | $(ratio "${burst_s[$z]}" "${burst_s[$p]}") |"
        done
    done
fi
