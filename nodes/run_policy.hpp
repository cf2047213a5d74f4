// The run policy: what one run of a job is given, how many tasks a worker may hold with it,
// and how a run that did not succeed ends.
//
// A job's own time limits win; [tasks.NAME] supplies those it does not set, then the node's
// top-level soft_time_limit and hard_time_limit; [tasks.NAME] also makes the task an exec
// task when it names a command. A run stopped for a cancel ends canceled, one stopped at a
// time limit fails saying which. Any other failure is retried while the job's retry policy
// (retry_policy.hpp) allows another attempt, except a run whose worker died, which is
// retried only with retry_on_worker_lost, and a run of an exec task that names a
// retry_exit_code, which is retried only when it exits with it. A run whose worker died and is not retried ends
// `error` (zq failed it), not `failed` (the task failed). Pure decisions, like placement: the dispatcher
// acts on them.
#pragma once

#include "config.hpp"
#include "journal.hpp"
#include "pool.hpp"

#include <cstdint>
#include <string>
#include <utility>

namespace zq::node {

// The soft and hard limits, in seconds (0 = none).
std::pair<double, double> time_limits(const JobRecord& job, const Config& config);

// What the worker is sent; it points into `job` and `config`, which must outlive it.
RunRequest run_request(const JobRecord& job, const Config& config);

// How many tasks a worker may hold when this job is handed to it: its task's `prefetch`,
// else its queue's, else the node's. A job `returned` from a worker unstarted waits for a
// free one (1): it already waited behind a task.
std::size_t prefetch_for(const JobRecord& job, bool returned, const Config& config);

// How a run ended without success.
struct RunFailure {
    StopReason reason = StopReason::none;
    std::string error;
    bool worker_lost = false;  // its worker process died
    TaskOutcome::Retry retry;  // what the task asked for, if it asked to be retried
};

// How it ends: canceled, failed, or retrying after `retry_in` seconds.
struct RunEnd {
    JobState state;
    std::string error;
    double retry_in = 0;
};
// `draw`, uniform in [0, 1), jitters the retry delay when the policy asks for it.
RunEnd unsuccessful_end(const JobRecord& job, const RunFailure& failure, const Config& config, double draw);

}  // namespace zq::node
