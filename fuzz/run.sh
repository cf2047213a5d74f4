#!/usr/bin/env bash
# Builds the fuzz targets of fuzz/ with clang under ASan and UBSan, runs each for a bounded
# time, then replays the corpus of each (tests/fuzz/TARGET/) through the instrumented build.
#
#   fuzz/run.sh [SECONDS] [TARGET...]     # default: 30 s each, every target
#
# The build goes to build-fuzz/ (ZQ_FUZZ_BUILD_DIR to change it). New inputs libFuzzer finds
# are kept in build-fuzz/corpus/TARGET/, not in the repository; a crash is saved as
# build-fuzz/artifacts/TARGET/crash-*, and the script fails. Fix the decoder, then copy the
# crash into tests/fuzz/TARGET/ so that every later build replays it (`make test` does too,
# through the fuzz_corpus_TARGET tests).
#
# Without clang or libFuzzer the script says so and exits 0: fuzzing is optional, `make test`
# is not. Set ZQ_FUZZ_REQUIRED=1 to make that a failure instead.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-30}
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(zqp_message worker_link events config send_arguments)
build=${ZQ_FUZZ_BUILD_DIR:-build-fuzz}
clang=${ZQ_FUZZ_CXX:-clang++}
jobs=${JOBS:-$(nproc)}

skip() {
    echo "fuzz: SKIPPED: $1"
    [ "${ZQ_FUZZ_REQUIRED:-0}" = 1 ] && exit 1
    exit 0
}

command -v "$clang" >/dev/null 2>&1 ||
    skip "$clang not found (Debian: apt-get install clang libclang-rt-dev); the corpus is still replayed by make test"
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
echo 'extern "C" int LLVMFuzzerTestOneInput(const char*, unsigned long) { return 0; }' >"$probe/probe.cpp"
"$clang" -fsanitize=fuzzer,address,undefined "$probe/probe.cpp" -o "$probe/probe" >/dev/null 2>&1 ||
    skip "$clang cannot link libFuzzer (Debian: apt-get install libclang-rt-dev)"

launcher=()
command -v ccache >/dev/null 2>&1 && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
# -O1 -g, as libFuzzer's own docs suggest: quicker to build than -O2, readable stacks, and
# NDEBUG left unset so that asserts stay on.
cmake -S . -B "$build" -DCMAKE_CXX_COMPILER="$clang" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" -DZQ_FUZZ=ON "${launcher[@]}" >/dev/null
cmake --build "$build" -j "$jobs" --target $(printf 'fuzz_%s ' "${targets[@]}") >/dev/null

failed=()
for target in "${targets[@]}"; do
    binary="$build/bin/fuzz_$target"
    seeds="tests/fuzz/$target"
    corpus="$build/corpus/$target"
    artifacts="$build/artifacts/$target/"
    mkdir -p "$corpus" "$artifacts"
    log="$build/fuzz_$target.log"
    dictionary=()
    [ -f "fuzz/$target.dict" ] && dictionary=(-dict="fuzz/$target.dict")
    # -rss_limit_mb: a decoder that lets one input grow memory without bound is a finding too.
    # A fixed seed: the same inputs in the same order on every run, so CI repeats what passed here.
    if "$binary" -seed="${ZQ_FUZZ_SEED:-1}" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
        "${dictionary[@]}" -artifact_prefix="$artifacts" "$corpus" "$seeds" >"$log" 2>&1; then
        runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
        coverage=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo '?')
        echo "fuzz: $target: ${seconds}s, $runs runs, coverage $coverage edges, corpus $(ls "$corpus" | wc -l) inputs: no crash"
    else
        echo "fuzz: $target: FAILED (log $log); the input is in $artifacts:"
        grep -E 'ERROR|runtime error|fuzz property failed|Test unit written' "$log" | head -5 | sed 's/^/    /'
        failed+=("$target")
        continue
    fi
    # The corpus kept in the repository, crashes found before included, through the
    # instrumented build.
    if ! "$binary" -runs=0 "$seeds" >"$log.replay" 2>&1; then
        echo "fuzz: $target: the corpus in $seeds FAILED to replay (log $log.replay)"
        failed+=("$target")
    fi
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz: FAILED: ${failed[*]}"
    exit 1
fi
echo "fuzz: all ${#targets[@]} targets passed (${seconds}s each) and replayed their corpus"
