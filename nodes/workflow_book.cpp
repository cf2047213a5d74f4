#include "workflow_book.hpp"

#include "invariant.hpp"

#include <utility>

namespace zq::node {
namespace {

const std::function<bool(std::uint32_t)> kNoRows = [](std::uint32_t) { return false; };

}  // namespace

WorkflowBook::Workflow& WorkflowBook::add(const std::string& id, Plan plan) {
    auto workflow = std::make_unique<Workflow>();
    workflow->id = id;
    const std::size_t count = plan.steps.size();
    workflow->status.assign(count, Status::pending);
    workflow->results.resize(count);
    workflow->waiting_for.resize(count);
    for (std::size_t i = 0; i < count; ++i) {
        workflow->waiting_for[i] = static_cast<std::uint32_t>(plan.steps[i].predecessors.size());
    }
    workflow->open = count;
    workflow->plan = std::move(plan);
    Workflow& added = *workflow;
    workflows_[id] = std::move(workflow);
    return added;
}

WorkflowBook::Workflow* WorkflowBook::find(std::string_view id) {
    auto found = workflows_.find(std::string(id));
    return found == workflows_.end() ? nullptr : found->second.get();
}

const Plan* WorkflowBook::plan(std::string_view workflow) const {
    auto found = workflows_.find(std::string(workflow));
    return found == workflows_.end() ? nullptr : &found->second->plan;
}

std::vector<std::uint32_t> WorkflowBook::released(std::string_view id) const {
    std::vector<std::uint32_t> steps;
    auto found = workflows_.find(std::string(id));
    if (found == workflows_.end()) return steps;
    const Workflow& workflow = *found->second;
    for (std::size_t i = 0; i < workflow.status.size(); ++i) {
        if (workflow.status[i] == Status::released) steps.push_back(static_cast<std::uint32_t>(i));
    }
    return steps;
}

WorkflowDecisions WorkflowBook::start(const std::string& id, Plan plan) {
    WorkflowDecisions decisions;
    Workflow& workflow = add(id, std::move(plan));
    release_roots(workflow, kNoRows, decisions);
    decide_end(workflow, decisions);
    return decisions;
}

WorkflowDecisions WorkflowBook::restore(const std::string& id, Plan plan,
                                        const std::vector<std::optional<StepRow>>& rows, bool canceled) {
    WorkflowDecisions decisions;
    Workflow& workflow = add(id, std::move(plan));
    ZQ_ASSERT(rows.size() == workflow.plan.steps.size(), "a workflow is restored with one row slot per step");
    auto has_row = [&rows](std::uint32_t step) { return step < rows.size() && rows[step].has_value(); };
    release_roots(workflow, has_row, decisions);
    // Index order is a replay order (workflow_plan.hpp): by the time a step is replayed,
    // every step it waits on has been, so it is released or skipped already.
    for (std::uint32_t step = 0; step < rows.size(); ++step) {
        const auto& row = rows[step];
        if (!row || !is_terminal(row->state)) continue;
        if (workflow.status[step] == Status::pending) {
            // A row the replay did not expect (it cannot come from this book): it counts.
            workflow.status[step] = Status::released;
        }
        end_step(workflow, step, row->state == JobState::succeeded, row->result, row->error, has_row, decisions);
    }
    if (canceled) {
        workflow.canceled = true;
        for (std::uint32_t step = 0; step < workflow.status.size(); ++step) {
            if (workflow.status[step] == Status::pending) {
                skip(workflow, step, std::string(kNotRunPrefix) + "its workflow was canceled", has_row, decisions);
            }
        }
    }
    decide_end(workflow, decisions);
    return decisions;
}

WorkflowDecisions WorkflowBook::step_ended(std::string_view id, std::uint32_t step, JobState state,
                                           std::string_view result, std::string_view error) {
    WorkflowDecisions decisions;
    Workflow* workflow = find(id);
    if (!workflow || step >= workflow->status.size()) return decisions;
    end_step(*workflow, step, state == JobState::succeeded, result, error, kNoRows, decisions);
    decide_end(*workflow, decisions);
    return decisions;
}

WorkflowDecisions WorkflowBook::cancel(std::string_view id) {
    WorkflowDecisions decisions;
    Workflow* workflow = find(id);
    if (!workflow) return decisions;
    workflow->canceled = true;
    for (std::uint32_t step = 0; step < workflow->status.size(); ++step) {
        if (workflow->status[step] == Status::pending) {
            skip(*workflow, step, std::string(kNotRunPrefix) + "its workflow was canceled", kNoRows, decisions);
        }
    }
    decide_end(*workflow, decisions);
    return decisions;
}

void WorkflowBook::release_roots(Workflow& workflow, const std::function<bool(std::uint32_t)>& has_row,
                                 WorkflowDecisions& decisions) {
    for (std::uint32_t step = 0; step < workflow.plan.steps.size(); ++step) {
        const PlanStep& each = workflow.plan.steps[step];
        if (!each.predecessors.empty() || workflow.status[step] != Status::pending) continue;
        auto no_results = [](std::uint32_t) -> std::string_view { return {}; };
        release(workflow, step, step_args(workflow.plan, step, no_results), has_row(step), decisions);
    }
}

void WorkflowBook::release(Workflow& workflow, std::uint32_t step, const std::string& args, bool has_row,
                           WorkflowDecisions& decisions) {
    workflow.status[step] = Status::released;
    if (!has_row) decisions.release.push_back({step, args});
}

void WorkflowBook::end_step(Workflow& workflow, std::uint32_t step, bool succeeded, std::string_view result,
                            std::string_view error, const std::function<bool(std::uint32_t)>& has_row,
                            WorkflowDecisions& decisions) {
    Status& status = workflow.status[step];
    if (status != Status::pending && status != Status::released) return;  // ended already
    status = succeeded ? Status::succeeded : Status::failed;
    --workflow.open;
    if (succeeded) {
        workflow.results[step].assign(result);
    } else if (workflow.first_failed < 0) {
        workflow.first_failed = step;
        workflow.first_error.assign(error);
    }
    const Plan& plan = workflow.plan;
    auto result_of = [&workflow](std::uint32_t each) -> std::string_view { return workflow.results[each]; };
    const std::string ended_id = step_id(workflow.id, step);
    for (std::uint32_t next : plan.steps[step].successors) {
        if (workflow.status[next] != Status::pending) continue;
        const PlanStep& waiting = plan.steps[next];
        if (waiting.trigger == Trigger::on_failure) {
            if (succeeded || workflow.canceled) {
                skip(workflow, next,
                     std::string(kNotRunPrefix) + (succeeded ? "step " + ended_id + " succeeded" : "its workflow was canceled"),
                     has_row, decisions);
            } else {
                release(workflow, next, error_callback_args(plan, next, ended_id, error), has_row(next), decisions);
            }
            continue;
        }
        if (!succeeded) {
            skip(workflow, next, std::string(kNotRunPrefix) + "step " + ended_id + " did not succeed", has_row,
                 decisions);
            continue;
        }
        if (--workflow.waiting_for[next] > 0) continue;
        if (workflow.canceled) {
            skip(workflow, next, std::string(kNotRunPrefix) + "its workflow was canceled", has_row, decisions);
        } else {
            release(workflow, next, step_args(plan, next, result_of), has_row(next), decisions);
        }
    }
}

void WorkflowBook::skip(Workflow& workflow, std::uint32_t first, const std::string& reason,
                        const std::function<bool(std::uint32_t)>& has_row, WorkflowDecisions& decisions) {
    // Without recursion: a chain of 100,000 steps skipped at once would overflow the stack.
    std::vector<std::uint32_t> pending{first};
    while (!pending.empty()) {
        const std::uint32_t step = pending.back();
        pending.pop_back();
        if (workflow.status[step] != Status::pending) continue;
        workflow.status[step] = Status::skipped;
        --workflow.open;
        if (!has_row(step)) {
            decisions.skip.push_back(
                {step, step == first ? reason
                                     : std::string(kNotRunPrefix) + "step " + step_id(workflow.id, first) + " was not run"});
        }
        for (std::uint32_t next : workflow.plan.steps[step].successors) pending.push_back(next);
    }
}

void WorkflowBook::decide_end(Workflow& workflow, WorkflowDecisions& decisions) const {
    if (workflow.open > 0 || decisions.end) return;
    if (workflow.canceled) {
        decisions.end = WorkflowDecisions::End{JobState::canceled, {}, "canceled"};
    } else if (workflow.first_failed >= 0) {
        decisions.end = WorkflowDecisions::End{
            JobState::failed, {},
            "step " + step_id(workflow.id, static_cast<std::size_t>(workflow.first_failed)) + " failed: " +
                workflow.first_error};
    } else {
        auto result_of = [&workflow](std::uint32_t each) -> std::string_view { return workflow.results[each]; };
        decisions.end = WorkflowDecisions::End{JobState::succeeded,
                                               materialize(workflow.plan, workflow.plan.result, result_of), {}};
    }
}

}  // namespace zq::node
