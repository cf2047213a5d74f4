// The C++ client API: submit tasks to the local zq-node and follow their jobs.
//
//   zq::Client client;                       // $ZQ_NODE or the default ipc endpoint
//   auto submitted = client.submit(zq::Task("zq.echo").with_args(1, "two"));
//   auto job = client.wait(submitted->id, std::chrono::seconds(10));
//   if (job && job->succeeded()) use(job->result_as<std::vector<int>>());
//
// Every call returns a Result; nothing throws across this interface. A Client owns one
// DEALER socket and is not thread-safe: use one per thread.
//
// Errors: ErrorCode::unreachable when the node said nothing within the timeout (is it
// running?); ErrorCode::timed_out when it answers but what was awaited did not happen in time;
// ErrorCode::not_found for an unknown job; ErrorCode::failed for a refusal (REJECTED "node
// busy"...); ErrorCode::bad_input for a malformed endpoint.
//
// Replies that arrive while a call waits for something else are kept, not dropped: ACCEPTED,
// REJECTED and STATE messages (up to a few thousand, oldest dropped first) are handed out by
// next_reply() first, and wait() on a job whose STATE was kept returns at once. A message a
// call could not send before its timeout is withdrawn, so it is never sent late.
#pragma once

#include <zq/credentials.hpp>
#include <zq/job.hpp>
#include <zq/result.hpp>
#include <zq/task.hpp>
#include <zq/workflow.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace zq {

using Milliseconds = std::chrono::milliseconds;
inline constexpr Milliseconds kDefaultTimeout{5000};

// What a node said when it accepted a task.
struct Submitted {
    std::string id;
    JobState state = JobState::accepted;
    std::string node;
    bool duplicate = false;  // the id was already known: nothing new will run
    // Set when the job was dropped as a duplicate of another job with the same key
    // (on_duplicate discard or queue_one): that job's id. The state is then `canceled`.
    std::string dedup;
};

// One message a node sent back, for callers that pipeline submissions (zq-bench).
struct Accepted {
    Submitted submitted;
};
struct Rejected {
    std::string id;
    std::string reason;
};
struct StateReport {
    JobInfo job;
};
using Reply = std::variant<Accepted, Rejected, StateReport>;

class Client {
public:
    explicit Client(std::string endpoint = {});  // empty: default_node_endpoint()
    // With CURVE credentials (zq/credentials.hpp), used when the endpoint is tcp. A node that
    // refuses the key never answers: calls fail with ErrorCode::unreachable.
    Client(std::string endpoint, const Credentials& credentials);
    ~Client();
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;
    Client(Client&&) noexcept;
    Client& operator=(Client&&) noexcept;

    const std::string& endpoint() const;

    // Sends the task and waits for ACCEPTED. A task without an id gets a new UUIDv7.
    // Resubmitting an id returns the existing job (duplicate = true) and runs nothing.
    Result<Submitted> submit(Task task, Milliseconds timeout = kDefaultTimeout);
    // Runs the task once on every node alive now, this one too. Waits for ACCEPTED; wait()
    // on the id then returns when every node has reported, with broadcast_outcomes(job)
    // giving one outcome per node (a node lost before it reported counts as failed).
    Result<Submitted> broadcast(Task task, Milliseconds timeout = kDefaultTimeout);
    // Submits a workflow (zq/workflow.hpp) and waits for ACCEPTED. An empty id gets a new
    // UUIDv7; resubmitting an id runs nothing new. wait(id) then returns the workflow's end:
    // its result (a chain's last result, a group's list, a chord's callback's result) and
    // its steps.
    Result<Submitted> submit_workflow(const Flow& flow, std::string id = {}, Milliseconds timeout = kDefaultTimeout);
    // The same with the flow map already packed (zq-send converts its JSON as is).
    Result<Submitted> submit_workflow_packed(std::string packed_flow, std::string id,
                                             Milliseconds timeout = kDefaultTimeout);
    // Waits until the job is terminal; ErrorCode::timed_out if it is not by then. Asks the
    // node for the job first (not_found if unknown, at once if already terminal), then
    // watches it for its STATE.
    Result<JobInfo> wait(std::string_view id, Milliseconds timeout);
    // The job's current state.
    Result<JobInfo> status(std::string_view id, Milliseconds timeout = kDefaultTimeout);
    // The job's outcome; ErrorCode::timed_out when it is not terminal yet.
    Result<JobInfo> result(std::string_view id, Milliseconds timeout = kDefaultTimeout);
    // Asks the node to cancel the job; returns the job as it is after the request: canceled,
    // still running while its worker is stopped, or already ended some other way (then the
    // cancel changed nothing).
    Result<JobInfo> cancel(std::string_view id, Milliseconds timeout = kDefaultTimeout);
    // An operator request (status, running, reload): the reply's data as msgpack bytes.
    Result<std::string> control(std::string_view operation, Milliseconds timeout = kDefaultTimeout);
    // The same for an operation about one job (history, job, watch): CONTROL with `id`.
    Result<std::string> control(std::string_view operation, std::string_view id,
                                Milliseconds timeout = kDefaultTimeout);

    // Pipelining, for callers that keep many submissions in flight: post() never blocks (a
    // task without an id gets a new one; messages the socket cannot take yet wait in the
    // client and go out during the next call that receives), next_reply() returns the next
    // ACCEPTED/REJECTED/STATE the node sent.
    Status post(const Task& task, bool watch);
    Result<Reply> next_reply(Milliseconds timeout);

private:
    // Sends SUBMIT or BROADCAST and waits for ACCEPTED.
    Result<Submitted> hand_over(Task task, bool broadcast, Milliseconds timeout);

    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace zq
