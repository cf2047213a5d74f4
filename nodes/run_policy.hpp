// The run policy: what one run of a job is given, how many tasks a worker may hold with it,
// and how a run that did not succeed ends.
//
// A job's own time limits win; [tasks.NAME] supplies those it does not set, and makes the
// task an exec task when it names a command. A run stopped for a cancel ends canceled, one
// stopped at a time limit fails saying which, and any other failure is retried while the
// job's retry policy allows another attempt. Pure decisions, like placement: the dispatcher
// acts on them.
#pragma once

#include "config.hpp"
#include "journal.hpp"
#include "pool.hpp"

#include <string>
#include <utility>

namespace zq::node {

// The [tasks.NAME] settings by task name.
using TaskTable = decltype(Config::tasks);

// The soft and hard limits, in seconds (0 = none).
std::pair<double, double> time_limits(const JobRecord& job, const TaskTable& tasks);

// What the worker is sent; it points into `job` and `tasks`, which must outlive it.
RunRequest run_request(const JobRecord& job, const TaskTable& tasks);

// How many tasks a worker may hold when this job is handed to it: its task's `prefetch`,
// else its queue's, else the node's. A job `returned` from a worker unstarted waits for a
// free one (1): it already waited behind a task.
std::size_t prefetch_for(const JobRecord& job, bool returned, const Config& config);

// How a run that did not succeed ends: canceled, failed, or retrying (another attempt).
struct RunEnd {
    JobState state;
    std::string error;
};
RunEnd unsuccessful_end(const JobRecord& job, StopReason reason, const std::string& error, const TaskTable& tasks);

}  // namespace zq::node
