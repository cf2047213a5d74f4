// Child processes of the soak: commands run to their end (ip), and the scan for processes a
// run left behind.
#pragma once

#include <chrono>
#include <set>
#include <string>
#include <sys/types.h>
#include <vector>

namespace zq::chaos {

struct Ran {
    int exit_code = -1;  // -1: could not run, or did not end in time (then killed)
    std::string output;  // stdout and stderr together
};

// Runs argv (no shell) to its end, at most `deadline`.
Ran run_command(const std::vector<std::string>& argv, std::chrono::milliseconds deadline = std::chrono::seconds(10));

// Starts argv with stdout and stderr appended to `log_path`; the child is killed if this
// process dies (parent-death signal), so that an interrupted soak leaves no node behind.
// Returns the pid, or -1.
pid_t spawn(const std::vector<std::string>& argv, const std::string& log_path);

// Waits for `pid` to exit, at most `deadline`; true when it did (and was reaped), with its
// exit code (128 + the signal when a signal ended it) in `exit_code` when given.
bool reap(pid_t pid, std::chrono::milliseconds deadline, int* exit_code = nullptr);

// Live processes that belong to the run: a command line that mentions `marker` (the run's
// directory: nodes and exec tasks name it), or a worker whose parent, per ZQ_PARENT_PID in
// its environment, was one of `node_pids`. This process is never counted.
std::vector<pid_t> processes_of_run(const std::string& marker, const std::set<pid_t>& node_pids);

}  // namespace zq::chaos
