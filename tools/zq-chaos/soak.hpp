// The chaos soak: N jobs through a 3-node cluster while faults are injected at random from a
// seed, then the checks of verdict.hpp and a scan for leftovers.
//
// Faults, one at a time, about every `fault_interval` seconds (each undone after a random
// while): SIGKILL of a worker; SIGKILL of a node, started again on its data directory; SIGTERM
// of a node (a graceful stop), started again the same way; SIGSTOP
// of a node, SIGCONT later (long enough, sometimes, for its peers to find it lost); a cut of
// the link between two nodes (network namespaces, blackhole routes; needs root). At most one
// node is down (killed or stopped) and at most one link is cut at a time, so that the cluster
// always has a majority of its parts working.
//
// Each job runs the exec task `rec`, which appends its job id to a file of the node that runs
// it and sleeps a little. Some jobs name a target node, so that they travel (FORWARD) to it.
// A submission that gets no answer is sent again with the same id later (resubmission is
// idempotent), so that every job the driver meant to submit is accepted in the end.
//
// After the last job every fault is undone and the soak waits for every accepted job to end,
// reads them all twice, counts the runs, stops the nodes, and looks for what is left: worker
// and node processes, and namespaces.
#pragma once

#include "verdict.hpp"

#include <cstdint>
#include <string>

namespace zq::chaos {

struct SoakOptions {
    std::size_t jobs = 200;
    std::uint64_t seed = 1;
    std::string bin_dir;          // zq-node and zq-worker
    double rate = 8;              // submissions per second
    double fault_interval = 1.5;  // mean seconds between faults
    // After the last job, the wait for every job to end goes on while jobs keep ending; a job
    // still not ended when none has for this long is stuck.
    double settle_seconds = 30;
    bool network = true;          // cut links (network namespaces); off without root
    bool keep = false;            // keep the run's directory even when it passed
};

struct SoakResult {
    Verdict verdict;
    std::size_t accepted = 0;
    std::size_t worker_kills = 0, node_kills = 0, terms = 0, stops = 0, cuts = 0;
    std::size_t orphans = 0;
    bool network = false;  // links were cut in namespaces
    bool passed() const { return verdict.passed() && orphans == 0 && setup_error.empty(); }
    std::string setup_error;  // the cluster could not be started
    std::string directory;    // kept when the soak failed
};

// Runs the soak; prints progress notes on stderr.
SoakResult run_soak(const SoakOptions& options);

}  // namespace zq::chaos
