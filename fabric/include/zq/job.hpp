// Job states and what a client learns about a job.
//
// pending → accepted → queued → running → succeeded | failed | error | canceled, plus
// retrying, waiting and scheduled; expired ends a job that did not start in time. A terminal
// state is final.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <msgpack.hpp>

namespace zq {

enum class JobState : std::uint8_t {
    pending,    // made by a client, not yet journaled by a node
    accepted,   // journaled at the origin
    queued,     // waiting for a free worker on its owner
    running,    // in a worker process
    succeeded,  // done, with a result
    failed,     // the task itself failed: it raised, exited non-zero or timed out
    error,      // zq failed it: its node was lost or restarted, its worker was killed
    canceled,   // canceled before or while it ran
    retrying,   // failed, another attempt is scheduled
    waiting,    // no live node can take it now; starts when one can
    scheduled,  // waits for its ETA (eta_ms) before it is queued
    expired,    // its expiry (expires_ms) passed before it started: it never ran
};

// The last state of the enum, so that tables by state can size themselves.
inline constexpr JobState kLastJobState = JobState::expired;

std::string_view to_string(JobState state);
std::optional<JobState> job_state_from_string(std::string_view name);
bool is_terminal(JobState state);

// One step of a workflow, as the workflow's status lists it.
struct StepInfo {
    std::string id;    // WORKFLOW/INDEX
    std::string node;  // where it runs or ran ("" while pending)
    JobState state = JobState::pending;  // pending: waits for the steps before it
    std::string step;  // its position in the workflow, e.g. "1.0"
    std::string task;
};

// What a node reports about a job.
struct JobInfo {
    std::string id;
    std::string task;
    JobState state = JobState::pending;
    std::string result;  // msgpack bytes of the result (empty when none)
    std::string error;
    std::string node;
    // Times as unix milliseconds, 0 when not set: not before, not after, and when a
    // retrying job's next attempt is queued.
    std::int64_t eta_ms = 0;
    std::int64_t expires_ms = 0;
    std::int64_t next_attempt_ms = 0;
    std::uint32_t attempts = 0;  // runs started so far
    // A workflow step: its workflow's id and its position there ("" for other jobs).
    std::string workflow;
    std::string step;
    // A workflow: its steps (at most the first 5,000 of them).
    std::vector<StepInfo> steps;

    bool terminal() const { return is_terminal(state); }
    bool succeeded() const { return state == JobState::succeeded; }

    // The result converted to T (throws msgpack::type_error when it does not fit).
    template <class T>
    T result_as() const {
        auto handle = msgpack::unpack(result.data(), result.size());
        return handle.get().as<T>();
    }
};

// One node's outcome of a broadcast: the job ID@NODE that ran there.
struct NodeOutcome {
    std::string node;
    JobState state = JobState::pending;  // pending: the node has not reported yet
    std::string result;                  // msgpack bytes
    std::string error;
};

// A broadcast's outcomes by node, read from its result ({NODE: {st, res?, err?}}); empty for
// a job that is not a broadcast.
std::vector<NodeOutcome> broadcast_outcomes(const JobInfo& job);

}  // namespace zq
