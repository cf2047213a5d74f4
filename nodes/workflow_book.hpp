// The workflow book: the state of the workflows this node is the origin of, and the one
// place that decides what a step's end means for its workflow.
//
// For each running workflow it keeps the plan (workflow_plan.hpp), where each step is
// (pending, released, ended), the number of unfinished predecessors of each pending step (so
// that a 10,000-member chord costs one decrement per member, not a scan), and the results
// the later steps need. Its answers are Decisions: the steps to release with their args, the
// steps that will never run (journaled `canceled`, "not run: ..."), and the workflow's end.
// The dispatcher carries them out in the same turn as the step end that caused them, so the
// journal always holds a consistent picture, and restore() rebuilds the same state from the
// journal's step rows after a restart.
//
// Semantics (docs/architecture.md, "Workflows"):
//   - a step runs when its predecessors succeeded; a link when its step succeeded; a
//     link_error when its step failed (after its retries), with [failed id, error];
//   - a step that did not succeed cancels every step that waits on it (transitively), except
//     its link_error callbacks, which run; steps that do not depend on it (a group's other
//     members) run to their end;
//   - the workflow ends when none of its steps can run any more: `canceled` if it was
//     canceled, `failed` with the first failed step's error if a step failed, else
//     `succeeded` with its result (a chain's last result, a group's list, a chord's callback);
//   - canceling the workflow cancels its pending steps; its released steps are canceled by
//     the dispatcher, and the workflow ends once they have ended.
#pragma once

#include "workflow_plan.hpp"

#include <zq/job.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace zq::node {

// The error text of a step the workflow will never run begins with this.
inline constexpr std::string_view kNotRunPrefix = "not run: ";

struct WorkflowDecisions {
    struct Release {
        std::uint32_t step;
        std::string args;  // msgpack array
    };
    struct Skip {
        std::uint32_t step;
        std::string reason;  // begins with kNotRunPrefix
    };
    struct End {
        JobState state;
        std::string result;  // msgpack bytes (succeeded)
        std::string error;
    };
    std::vector<Release> release;
    std::vector<Skip> skip;
    std::optional<End> end;
};

// One step's row as the journal has it at restart.
struct StepRow {
    JobState state = JobState::queued;
    std::string result;
    std::string error;
};

class WorkflowBook {
public:
    // A new workflow: its first steps are released.
    WorkflowDecisions start(const std::string& workflow, Plan plan);
    // After a restart: the workflow as its step rows in the journal show it (nullopt for a
    // step with no row: never released). Releases and skips that the rows lack are decided
    // again (it is idempotent), and the end if nothing is left to run. `canceled` is the
    // workflow's journaled cancel request.
    WorkflowDecisions restore(const std::string& workflow, Plan plan, const std::vector<std::optional<StepRow>>& rows,
                              bool canceled);
    // A step ended (terminal state). A step that is not pending or released is ignored.
    WorkflowDecisions step_ended(std::string_view workflow, std::uint32_t step, JobState state,
                                 std::string_view result, std::string_view error);
    // Cancels the workflow: its pending steps are skipped; released() lists those to cancel.
    WorkflowDecisions cancel(std::string_view workflow);

    bool holds(std::string_view workflow) const { return workflows_.count(std::string(workflow)) > 0; }
    const Plan* plan(std::string_view workflow) const;
    // The released steps that have not ended.
    std::vector<std::uint32_t> released(std::string_view workflow) const;
    // The workflow ended (its end decision was carried out): it is forgotten.
    void forget(std::string_view workflow) { workflows_.erase(std::string(workflow)); }
    std::size_t size() const { return workflows_.size(); }

private:
    enum class Status : std::uint8_t { pending, released, succeeded, failed, skipped };
    struct Workflow {
        std::string id;
        Plan plan;
        std::vector<Status> status;
        std::vector<std::uint32_t> waiting_for;  // unfinished predecessors of each step
        std::vector<std::string> results;        // of the succeeded steps
        std::size_t open = 0;                    // steps pending or released
        std::int64_t first_failed = -1;
        std::string first_error;
        bool canceled = false;
    };
    // Marks a step ended and settles what waits on it; `has_row` says which steps already
    // have a journal row (a restore decides only what the rows lack).
    void end_step(Workflow& workflow, std::uint32_t step, bool succeeded, std::string_view result,
                  std::string_view error, const std::function<bool(std::uint32_t)>& has_row,
                  WorkflowDecisions& decisions);
    void release(Workflow& workflow, std::uint32_t step, const std::string& args, bool has_row,
                 WorkflowDecisions& decisions);
    void skip(Workflow& workflow, std::uint32_t step, const std::string& reason,
              const std::function<bool(std::uint32_t)>& has_row, WorkflowDecisions& decisions);
    void release_roots(Workflow& workflow, const std::function<bool(std::uint32_t)>& has_row,
                       WorkflowDecisions& decisions);
    void decide_end(Workflow& workflow, WorkflowDecisions& decisions) const;
    Workflow& add(const std::string& id, Plan plan);
    Workflow* find(std::string_view id);

    std::unordered_map<std::string, std::unique_ptr<Workflow>> workflows_;
};

}  // namespace zq::node
