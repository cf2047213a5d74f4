// Workflow builders: chain, group and chord over zq::Task steps, as Celery's canvas has them.
//
//   auto flow = zq::chain(zq::Task("add").with_args(1, 2),        // add(1, 2)
//                         zq::Task("add").with_args(10),           // add(3, 10)
//                         zq::immutable(zq::Task("notify")));      // notify(), no result passed
//   auto submitted = client.submit_workflow(flow);
//   auto done = client.wait(submitted->id, std::chrono::seconds(30));  // the chain's last result
//
// A chain passes each step's result to the next as its first argument (unless the step is
// immutable); a group runs its steps in parallel and its result is the list of theirs; a
// chord is a group and then a callback that gets that list. link() and link_error() hang
// callbacks on a task step: on success with its result, on failure with [job id, error].
// The node's side is nodes/workflow_plan.hpp; docs/protocol.md describes the flow map.
#pragma once

#include <zq/task.hpp>

#include <string>
#include <vector>

namespace zq {

class Flow {
public:
    enum class Kind { task, chain, group, chord };

    // A task step: its name, args, kwargs, queue, target, priority and retry count and delay.
    Flow(Task task);  // NOLINT(google-explicit-constructor): a Task is a flow of one step
    Flow(Kind kind, std::vector<Flow> members);

    // A task step that takes no result from the steps before it (Celery's si).
    Flow& immutable(bool value = true);
    // A callback run when this task step succeeds, with its result first.
    Flow& link(Flow callback);
    // A callback run once when this task step fails (after its retries), with [job id, error] first.
    Flow& link_error(Flow callback);

    Kind kind() const { return kind_; }
    // The flow map (msgpack), as WORKFLOW carries it.
    std::string packed() const;
    void pack_into(msgpack::packer<msgpack::sbuffer>& packer) const;

private:
    Kind kind_ = Kind::task;
    Task task_;
    bool immutable_ = false;
    std::vector<Flow> members_;     // chain and group; a chord's group then its callback
    std::vector<Flow> link_;        // at most one
    std::vector<Flow> link_error_;  // at most one
};

inline Flow immutable(Task task) { return Flow(std::move(task)).immutable(); }

template <class... Steps>
Flow chain(Steps... steps) {
    return Flow(Flow::Kind::chain, std::vector<Flow>{Flow(std::move(steps))...});
}
inline Flow chain(std::vector<Flow> steps) { return Flow(Flow::Kind::chain, std::move(steps)); }

template <class... Steps>
Flow group(Steps... steps) {
    return Flow(Flow::Kind::group, std::vector<Flow>{Flow(std::move(steps))...});
}
inline Flow group(std::vector<Flow> steps) { return Flow(Flow::Kind::group, std::move(steps)); }

// A group, then a callback that gets the list of the group's results.
Flow chord(Flow group, Flow then);

}  // namespace zq
