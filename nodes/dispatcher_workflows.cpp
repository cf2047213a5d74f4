// The dispatcher's workflows (dispatcher.hpp): the glue between the WorkflowBook, which
// decides, and the job life cycle, which runs the steps as ordinary jobs.
//
// A workflow is a job of its own at its origin (task zq.workflow, its flow as its args),
// `running` while any of its steps can still run; it holds no worker. Its steps are jobs
// WORKFLOW/INDEX, journaled when they are released, placed by queue and target like any job
// (forwarded to peers as usual), each carrying `wf: [WORKFLOW, POSITION]` in its envelope.
// A step's end is seen where every job's end is, in finish(), at the origin; the releases it
// causes are journaled in that same turn. Step ids are derived from the workflow's id, which
// was claimed as any submitted id is, so they need no claims of their own.
#include "dispatcher.hpp"

#include "clock.hpp"

#include <spdlog/spdlog.h>

namespace zq::node {
namespace {

namespace f = protocol::field;
using protocol::Command;

// A status or STATE lists at most this many steps: a 10,000-step workflow's list would
// not fit in one message. The job map says how many there are.
constexpr std::size_t kMaxListedSteps = 5000;

std::string step_carried(std::string_view workflow, std::string_view position) {
    BodyWriter body;
    auto& packer = body.begin(f::workflow);
    packer.pack_array(2);
    packer.pack(workflow);
    packer.pack(position);
    return std::string(body.finish());
}

}  // namespace

bool Dispatcher::is_workflow(const JobRecord& job) { return job.task == kWorkflowTask && job.origin.empty(); }

void Dispatcher::submit_workflow(const std::string& client, const Message& message) {
    const std::string id(*message.string(f::id));
    const bool watch = message.boolean(f::watch).value_or(false);
    if (id.empty() || id.size() > 200 || id.find_first_of("/@") != std::string::npos) {
        reply_rejected(client, id, "bad workflow: its id must be 1 to 200 characters without '/' or '@'");
        return;
    }
    if (answer_active(client, id, watch)) return;
    auto plan = plan_workflow(*message.find(f::flow));
    if (!plan) {
        reply_rejected(client, id, "bad workflow: " + plan.error());
        return;
    }
    if (jobs_.size() >= config_.max_pending) {
        reply_rejected(client, id, busy_reason());
        return;
    }
    JobRecord record;
    record.id = id;
    record.task = std::string(kWorkflowTask);
    record.args = *message.packed(f::flow);
    record.state = JobState::queued;
    record.node = config_.name;
    record.created_ms = record.updated_ms = wall_ms();
    ClaimStep step = claims_apply() ? claim_on_submit(client, record) : ClaimStep::run;
    if (step == ClaimStep::answered) return;
    if (!insert_submitted(client, record, watch)) return;
    Job& job = hold_accepted(std::move(record), client);
    if (watch) add_watcher(job, client);
    if (step == ClaimStep::await) {
        await_claim(job, client);
        return;
    }
    start_workflow(job, std::move(*plan));
}

void Dispatcher::start_workflow(Job& job) {
    auto plan = plan_workflow(job.record.args, job.record.kwargs);
    if (!plan) {
        finish(job, JobState::failed, {}, "bad workflow: " + plan.error());
        return;
    }
    start_workflow(job, std::move(*plan));
}

void Dispatcher::start_workflow(Job& job, Plan plan) {
    change_state(job, JobState::running);
    spdlog::debug("workflow {} starts: {} steps", job.record.id, plan.steps.size());
    carry_out(job.record.id, workflows_.start(job.record.id, std::move(plan)));
}

void Dispatcher::restore_workflow(Job& job) {
    auto plan = plan_workflow(job.record.args, job.record.kwargs);
    if (!plan) {
        finish(job, JobState::failed, {}, "bad workflow: " + plan.error());
        return;
    }
    std::vector<std::optional<StepRow>> rows(plan->steps.size());
    for (std::size_t i = 0; i < rows.size(); ++i) {
        auto stored = journal_.find(step_id(job.record.id, i));
        if (!stored) {
            spdlog::error("workflow {}: cannot read step {}: {}", job.record.id, i, stored.error());
            continue;
        }
        if (*stored) rows[i] = StepRow{(*stored)->state, (*stored)->result, (*stored)->error};
    }
    carry_out(job.record.id,
              workflows_.restore(job.record.id, std::move(*plan), rows, job.record.cancel_requested));
}

void Dispatcher::workflow_step_ended(const Job& step) {
    auto parsed = parse_step_id(step.record.id);
    if (!parsed || !workflows_.holds(parsed->first)) return;
    const std::string workflow(parsed->first);
    carry_out(workflow, workflows_.step_ended(workflow, static_cast<std::uint32_t>(parsed->second),
                                              step.record.state, step.record.result, step.record.error));
}

void Dispatcher::carry_out(const std::string& workflow, WorkflowDecisions decisions) {
    const Plan* plan = workflows_.plan(workflow);
    if (!plan) return;
    const std::int64_t now = wall_ms();
    for (WorkflowDecisions::Skip& skip : decisions.skip) {
        // Never run: journaled `canceled` so that its status says why. It is history at once.
        JobRecord record = step_record(workflow, *plan, skip.step, {}, now);
        record.state = JobState::canceled;
        record.error = std::move(skip.reason);
        auto inserted = journal_.insert_job(record);
        if (!inserted) {
            journal_write(Status(Error{inserted.error()}));
            continue;
        }
        if (!*inserted) continue;
        Job& skipped = jobs_.add(std::move(record));
        note_event(skipped.record);
        jobs_.release(skipped);
    }
    for (WorkflowDecisions::Release& release : decisions.release) {
        JobRecord record = step_record(workflow, *plan, release.step, std::move(release.args), now);
        auto inserted = journal_.insert_job(record);
        if (!inserted) {
            journal_write(Status(Error{inserted.error()}));
            continue;
        }
        if (!*inserted) continue;  // released before (a restore decides again): it runs once
        Job& job = jobs_.add(std::move(record));
        note_event(job.record);
        // A failed commit forgets the step as it forgets a submission (turn.hpp).
        turn_.accept(job, {});
        enqueue(job);
    }
    if (!decisions.end) return;
    Job* job = jobs_.find(workflow);
    workflows_.forget(workflow);
    if (!job || is_terminal(job->record.state)) return;
    finish(*job, decisions.end->state, decisions.end->result, decisions.end->error);
}

void Dispatcher::release_links(const Job& job) {
    auto links = read_links(job.record.carried);
    if (!links || !*links) return;
    const JobRecord& ended = job.record;
    const bool succeeded = ended.state == JobState::succeeded;
    // A job canceled on purpose calls no error callback.
    if (!succeeded && ended.state == JobState::canceled) return;
    const std::vector<std::string>& flows = succeeded ? (*links)->ok : (*links)->err;
    msgpack::sbuffer buffer;
    msgpack::packer<msgpack::sbuffer> packer(buffer);
    if (succeeded) {
        packer.pack_array(1);
        if (ended.result.empty()) {
            packer.pack_nil();
        } else {
            buffer.write(ended.result.data(), ended.result.size());
        }
    } else {
        packer.pack_array(2);
        packer.pack(ended.id);
        packer.pack(ended.error);
    }
    const std::string seed(buffer.data(), buffer.size());
    for (std::size_t i = 0; i < flows.size(); ++i) {
        // Each callback is a workflow of its own, ID/link.N or ID/link_error.N, journaled in
        // the turn that journals the job's end; its seed (kwargs) feeds its first steps.
        JobRecord record;
        record.id = ended.id + (succeeded ? "/link." : "/link_error.") + std::to_string(i);
        record.task = std::string(kWorkflowTask);
        record.args = flows[i];
        record.kwargs = seed;
        record.state = JobState::queued;
        record.node = config_.name;
        record.created_ms = record.updated_ms = wall_ms();
        auto inserted = journal_.insert_job(record);
        if (!inserted) {
            journal_write(Status(Error{inserted.error()}));
            continue;
        }
        if (!*inserted) continue;
        Job& callback = jobs_.add(std::move(record));
        note_event(callback.record);
        turn_.accept(callback, {});
        start_workflow(callback);
    }
}

JobRecord Dispatcher::step_record(const std::string& workflow, const Plan& plan, std::uint32_t step,
                                  std::string args, std::int64_t now) const {
    const PlanStep& each = plan.steps[step];
    JobRecord record;
    record.id = step_id(workflow, step);
    record.task = each.spec.task;
    record.queue = each.spec.queue;
    record.target = each.spec.target;
    record.priority = each.spec.priority;
    record.args = args.empty() ? each.spec.args : std::move(args);
    record.kwargs = each.spec.kwargs;
    record.max_retries = each.spec.max_retries;
    record.retry_delay = each.spec.retry_delay;
    record.state = JobState::queued;
    record.node = config_.name;
    record.created_ms = record.updated_ms = now;
    record.carried = step_carried(workflow, each.position);
    return record;
}

void Dispatcher::cancel_workflow(Job& workflow) {
    const std::string id = workflow.record.id;
    if (!workflow.record.cancel_requested) {
        workflow.record.cancel_requested = true;
        journal_write(journal_.request_cancel(id, wall_ms()));
    }
    std::vector<std::uint32_t> released = workflows_.released(id);
    carry_out(id, workflows_.cancel(id));
    for (std::uint32_t step : released) {
        if (Job* job = jobs_.find(step_id(id, step))) cancel_step(*job);
    }
}

void Dispatcher::cancel_step(Job& job) {
    JobRecord& record = job.record;
    if (is_terminal(record.state) || record.cancel_requested) return;
    const JobState state = record.state;
    if (!job.owner.empty()) {
        // On a peer: the owner cancels it and reports, as for a client's cancel.
        record.cancel_requested = true;
        journal_write(journal_.request_cancel(record.id, wall_ms()));
        PeerMessage cancel{job.owner, Command::cancel, job_notice(record.id, config_.name)};
        to_peer(cancel.node, cancel.command, cancel.body);
        outbox_.cancel_sent(record.id, std::move(cancel));
    } else if (state == JobState::queued || state == JobState::waiting || state == JobState::retrying ||
               state == JobState::scheduled) {
        unqueue(job);
        finish(job, JobState::canceled, {}, "canceled with its workflow before it ran");
    } else if (state == JobState::running) {
        record.cancel_requested = true;
        journal_write(journal_.request_cancel(record.id, wall_ms()));
        pool_.cancel(record.id);
    }
}

std::string Dispatcher::job_data(const JobRecord& job) {
    if (!is_workflow(job)) return job_body(job);
    BodyWriter body;
    write_job(body, job);
    auto plan = plan_workflow(job.args, job.kwargs);
    if (!plan) return std::string(body.finish());
    const std::size_t count = plan->steps.size();
    const std::size_t listed = std::min(count, kMaxListedSteps);
    body.add(f::step_count, static_cast<std::uint64_t>(count));
    auto& packer = body.begin(f::steps);
    packer.pack_array(static_cast<std::uint32_t>(listed));
    for (std::size_t i = 0; i < listed; ++i) {
        const std::string id = step_id(job.id, i);
        auto found = find(id);
        const bool known = static_cast<bool>(found);
        packer.pack_map(5);
        packer.pack(std::string_view(f::id));
        packer.pack(id);
        packer.pack(std::string_view(f::node));
        packer.pack(known ? found->node : std::string());
        packer.pack(std::string_view(f::state));
        packer.pack(known ? to_string(found->state) : to_string(JobState::pending));
        packer.pack(std::string_view(f::step));
        packer.pack(plan->steps[i].position);
        packer.pack(std::string_view(f::task));
        packer.pack(plan->steps[i].spec.task);
    }
    return std::string(body.finish());
}

}  // namespace zq::node
