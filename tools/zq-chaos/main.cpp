// zq-chaos: the chaos soak (soak.hpp), the program bench/chaos.sh runs.
//
//   zq-chaos [--jobs N] [--seed S] [--rate R] [--fault-interval SEC] [--settle SEC]
//            [--no-network] [--keep] [--bin DIR]
//
// Prints notes on stderr and one verdict line on stdout:
//   chaos: seed=7 jobs=200 kills=12 stops=5 cuts=3 lost=0 doubled=0 stuck=0 changed=0 orphans=0 PASS
// Exit codes: 0 PASS, 1 FAIL (the run's directory, with every node's log and run file, is kept
// and named), 2 bad usage or a cluster that would not start.
#include "soak.hpp"

#include <CLI/CLI.hpp>

#include <unistd.h>

#include <climits>
#include <cstdio>
#include <filesystem>
#include <string>

namespace {

// zq-node and zq-worker are beside this program in a build.
std::string own_directory() {
    std::error_code error;
    const auto path = std::filesystem::read_symlink("/proc/self/exe", error);
    return error ? std::string(".") : path.parent_path().string();
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Chaos soak: jobs through a 3-node cluster under random, seeded faults.", "zq-chaos"};
    zq::chaos::SoakOptions options;
    options.bin_dir = own_directory();
    bool no_network = false;
    app.add_option("--jobs,-n", options.jobs, "jobs to submit")->capture_default_str()->check(CLI::Range(1, 10'000'000));
    app.add_option("--seed", options.seed, "seed of every random choice")->capture_default_str();
    app.add_option("--rate", options.rate, "submissions per second")->capture_default_str()->check(CLI::Range(0.1, 10000.0));
    app.add_option("--fault-interval", options.fault_interval, "mean seconds between faults")
        ->capture_default_str()
        ->check(CLI::Range(0.05, 3600.0));
    app.add_option("--settle", options.settle_seconds,
                   "after the last job, wait for every job to end while jobs keep ending; a job not ended when none "
                   "has for SEC seconds is stuck")
        ->capture_default_str()
        ->check(CLI::Range(1.0, 3600.0));
    app.add_flag("--no-network", no_network, "do not cut links (no network namespaces)");
    app.add_flag("--keep", options.keep, "keep the run's directory (logs, run files) even when it passes");
    app.add_option("--bin", options.bin_dir, "directory of zq-node and zq-worker")->capture_default_str();
    CLI11_PARSE(app, argc, argv);
    options.network = !no_network && ::geteuid() == 0;
    if (!no_network && !options.network) std::fprintf(stderr, "chaos: not root, so no link is cut\n");

    const zq::chaos::SoakResult result = zq::chaos::run_soak(options);
    if (!result.setup_error.empty()) {
        std::fprintf(stderr, "chaos: the cluster did not start: %s\n", result.setup_error.c_str());
        if (!result.directory.empty()) std::fprintf(stderr, "chaos: logs in %s\n", result.directory.c_str());
        return 2;
    }
    const auto& verdict = result.verdict;
    std::string states;
    for (const auto& [state, count] : verdict.states) states += " " + state + "=" + std::to_string(count);
    std::fprintf(stderr, "chaos: accepted %zu of %zu; ended:%s; worker kills %zu, node kills %zu, node SIGTERMs %zu%s\n",
                 result.accepted, options.jobs, states.c_str(), result.worker_kills, result.node_kills, result.terms,
                 result.network ? "" : "; links not cut (no network namespaces)");
    for (const auto& example : verdict.examples) std::fprintf(stderr, "chaos:   %s\n", example.c_str());
    if (verdict.unrun > 0) std::fprintf(stderr, "chaos: %zu succeeded without a recorded run\n", verdict.unrun);
    if (!result.directory.empty()) std::fprintf(stderr, "chaos: logs and run files in %s\n", result.directory.c_str());
    std::printf("chaos: seed=%llu jobs=%zu kills=%zu stops=%zu cuts=%zu lost=%zu doubled=%zu stuck=%zu changed=%zu "
                "orphans=%zu %s\n",
                static_cast<unsigned long long>(options.seed), options.jobs, result.worker_kills + result.node_kills + result.terms,
                result.stops, result.cuts, verdict.lost + verdict.unrun, verdict.doubled, verdict.stuck,
                verdict.changed, result.orphans, result.passed() ? "PASS" : "FAIL");
    return result.passed() ? 0 : 1;
}
