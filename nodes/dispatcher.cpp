// The dispatcher's requests from clients, the jobs run here, and the turn (dispatcher.hpp).
#include "dispatcher.hpp"

#include "clock.hpp"
#include "invariant.hpp"

#include <zq/time_text.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdint>
#include <tuple>

namespace zq::node {
namespace {

namespace f = protocol::field;
using protocol::Command;

constexpr const char* kRestartedExplanation = "node restarted while the job was running";
// Clients waiting for one job's outcome; more is a client bug, not a need.
constexpr std::size_t kMaxWatchersPerJob = 256;
// Seconds between attempts to journal outcomes that a failed commit left unwritten.
constexpr double kRejournalInterval = 1.0;

}  // namespace

Dispatcher::Dispatcher(uv_loop_t* loop, const Config& config, Journal& journal, Pool& pool, ReplySender send)
    : config_(config), journal_(journal), pool_(pool),
      send_(std::move(send)), local_{config.name, config.queues, false, config.capacity}, gate_(config),
      broadcasts_(config.name, config.limits.max_message_bytes), claims_(journal, config.name),
      awaiting_claims_(config.name), key_outbox_(config.name), peer_timer_(loop, [this] { resend_to_peers(); }),
      owner_check_timer_(loop, [this] { reap_silent_owners(); }), rejournal_timer_(loop, [this] { end_turn(); }),
      clock_timer_(loop, [this] { on_clock(); }) {}

void Dispatcher::set_peer_links(PeerLinks links) {
    peers_ = std::move(links);
    placement_dirty_ = true;
    peer_timer_.start(config_.heartbeat_interval, true);
}

void Dispatcher::recount_states() {
    auto counts = journal_.count_by_state();
    if (!counts) {
        spdlog::warn("cannot count jobs by state: {}", counts.error());
        return;
    }
    jobs_.recount(*counts);
}

Status Dispatcher::recover() {
    if (auto loaded = claims_.load(); !loaded) return loaded;
    auto unfinished = journal_.unfinished();
    if (!unfinished) return Error{unfinished.error()};
    // Held before the journal is counted, so that the counts leave them out of the history.
    std::vector<Job*> held;
    for (JobRecord& record : *unfinished) held.push_back(&jobs_.add(std::move(record)));
    recount_states();

    // Workflows first, so that the steps this loop ends are seen by their workflow.
    for (Job* job : held) {
        if (is_workflow(job->record) && job->record.state == JobState::running) restore_workflow(*job);
    }
    std::size_t resumed = 0, failed = 0, canceled = 0;
    bool placed_on_peers = false;
    for (Job* job : held) {
        JobRecord& record = job->record;
        restore_key_slots(*job);
        if (is_workflow(record) && record.state != JobState::accepted && record.state != JobState::queued) {
            ++resumed;
        } else if (is_broadcast(record)) {
            restore_broadcast(*job);
            ++resumed;
        } else if (record.state == JobState::accepted) {
            // Its claim was never answered: it is claimed again (dispatcher_claims.cpp).
            await_claim(*job, {});
            ++resumed;
        } else if (record.origin.empty() && !record.node.empty() && record.node != config_.name) {
            // Placed on a peer before the restart: the owner still runs it and reports to us
            // (it keeps the outcome until we acknowledge it). Whether the FORWARD reached it
            // before the stop, only the owner knows: it is asked again, and answers TAKEN with
            // how far the job got, or takes it now. Never placed anywhere else.
            job->owner = record.node;
            outbox_.forwarded(record.id, {job->owner, Command::forward, forward_body(record, config_.name)}, 0);
            if (record.cancel_requested) {
                outbox_.cancel_sent(record.id, {job->owner, Command::cancel, job_notice(record.id, config_.name)});
            }
            ++resumed;
        } else if (record.cancel_requested) {
            finish(*job, JobState::canceled, {}, "canceled while the node was down");
            ++canceled;
        } else if (record.state == JobState::running) {
            finish(*job, JobState::error, {}, kRestartedExplanation);
            ++failed;
        } else if (record.state == JobState::retrying && record.next_attempt_ms > 0) {
            // Its next attempt keeps its time across the restart.
            if (!expire_if_due(*job, wall_ms())) wait_until(*job, record.next_attempt_ms);
            ++resumed;
        } else if (record.state == JobState::scheduled) {
            enqueue(*job);
            ++resumed;
        } else {
            if (record.state != JobState::queued) change_state(*job, JobState::queued);
            enqueue(*job);
            ++resumed;
        }
        placed_on_peers = placed_on_peers || !job->owner.empty();
    }
    if (peers_.alive && placed_on_peers) owner_check_timer_.start(owner_grace_seconds());
    if (resumed + failed + canceled > 0) {
        spdlog::info("journal: {} queued jobs resumed, {} running jobs failed ({}), {} canceled", resumed, failed,
                     kRestartedExplanation, canceled);
    }
    return load_unacknowledged_reports();
}

void Dispatcher::submit(const std::string& client, const Message& message) {
    auto task = read_task(message, config_.limits);
    if (!task) {
        reply_rejected(client, message.string(f::id).value_or(""), "bad task: " + task.error());
        return;
    }
    // The client hears the outcome as ACCEPTED or REJECTED.
    [[maybe_unused]] Status accepted = accept_task(client, std::move(*task), message.boolean(f::watch).value_or(false));
}

Status Dispatcher::submit_internal(Task task) { return accept_task({}, std::move(task), false); }

Status Dispatcher::accept_task(const std::string& client, Task&& task, bool watch) {
    std::string id = task.id;
    // The node's own submissions hear the reason as the result; a client as REJECTED.
    auto refuse = [&](const std::string& reason) {
        if (!client.empty()) reply_rejected(client, id, reason);
        return Status(Error{reason});
    };
    if (id.find(kRunSeparator) != std::string::npos) {
        return refuse("bad task: a job id may not contain '@' (it names broadcast runs, ID@NODE)");
    }
    if (answer_active(client, id, watch)) return success();
    if (auto links = read_links(task.carried); !links) return refuse("bad task: " + links.error());
    if (jobs_.size() >= config_.max_pending) return refuse(busy_reason());
    const std::int64_t now = wall_ms();
    settle_capacity_demand(task, config_);
    JobRecord record = record_from(std::move(task), now, config_.name);
    if (record.weight > 1) {
        if (std::string heavy = too_heavy_reason(record); !heavy.empty()) return refuse("too heavy: " + heavy);
    }
    // Journaled as it starts out, so that an ETA job is not written twice in its first turn.
    if (record.eta_ms > now) record.state = JobState::scheduled;
    // In a cluster the id's home says which node holds it (dispatcher_claims.cpp); a node
    // that holds it already has answered the submitter.
    ClaimStep step = claims_apply() ? claim_on_submit(client, record) : ClaimStep::run;
    if (step == ClaimStep::answered) return success();
    if (!insert_submitted(client, record, watch)) {
        // A job that finished earlier (nothing runs again), or a journal failure, which fails
        // the whole turn.
        if (turn_.journal_error().empty()) return success();
        return Error{"journal unwritable: " + turn_.journal_error()};
    }
    Job& job = hold_accepted(std::move(record), client);
    if (watch) add_watcher(job, client);
    if (step == ClaimStep::await) {
        await_claim(job, client);
        return success();
    }
    enqueue(job);
    return success();
}

std::string Dispatcher::busy_reason() const {
    return "node busy: " + std::to_string(jobs_.size()) + " jobs pending (max_pending " +
           std::to_string(config_.max_pending) + "); retry later";
}

bool Dispatcher::answer_active(const std::string& client, const std::string& id, bool watch) {
    Job* known = jobs_.find(id);
    if (!known) return false;
    if (watch) add_watcher(*known, client);
    if (known->record.state == JobState::accepted) {
        await_claim_again(*known, client);
        return true;
    }
    // Submitted twice within one turn: the second submitter's answer, like the first's,
    // waits for the commit (and becomes REJECTED if the commit fails).
    if (turn_.accepts(*known)) {
        turn_.accept(*known, client);
        return true;
    }
    reply_accepted(client, shown(*known), true);
    return true;
}

bool Dispatcher::insert_submitted(const std::string& client, const JobRecord& job, bool watch) {
    auto inserted = journal_.insert_job(job);
    if (!inserted) {
        journal_write(Status(Error{inserted.error()}));
        reply_rejected(client, job.id, "journal unwritable: " + inserted.error());
        return false;
    }
    if (*inserted) return true;
    // Known to the journal but no longer active: it finished earlier. Nothing runs again.
    auto existing = journal_.find(job.id);
    if (!existing || !*existing) {
        reply_rejected(client, job.id, "journal unreadable: job " + job.id + " is in the journal but cannot be read");
        return false;
    }
    reply_accepted(client, **existing, true);
    if (watch && is_terminal((*existing)->state)) reply_state(client, **existing);
    return false;
}

Job& Dispatcher::hold_accepted(JobRecord record, const std::string& client) {
    Job& job = jobs_.add(std::move(record));
    note_event(job.record);
    turn_.accept(job, client);
    return job;
}

void Dispatcher::cancel(const std::string& client, const Message& message) {
    std::string id(*message.string(f::id));
    const RequestId request_id = message.unsigned_integer(f::request_id);
    // An origin canceling at its owner hears the outcome as STATE, not as a reply.
    auto origin = message.string(f::node);
    Job* job = jobs_.find(id);
    if (origin && !job) {
        spdlog::info("cancel of job {} from node {}: no such job running here; ignored", id, *origin);
        return;
    }
    if (job && job->journaled_state) {
        // It has ended; the journal does not say so yet. A cancel changes nothing.
        if (!origin) reply_job(client, request_id, shown(*job));
        return;
    }
    if (job && is_workflow(job->record) && job->record.state == JobState::running) {
        cancel_workflow(*job);
        if (!origin) reply_job(client, request_id, job->record);
        return;
    }
    if (job && is_broadcast(job->record) && !is_terminal(job->record.state)) {
        if (!origin) {
            reply(client, Command::control_reply,
                  control_error_body(
                      request_id, "a broadcast is not canceled as a whole; cancel its run on a node: " + id + "@NODE"));
        }
        return;
    }
    if (job && !job->owner.empty() && !is_terminal(job->record.state)) {
        // Placed on a peer: the owner cancels it and reports; until then it stays as it is
        // here. The request is journaled so that it survives a restart of this node, and sent
        // again until the owner reports the end (or is reaped).
        if (!job->record.cancel_requested) {
            job->record.cancel_requested = true;
            journal_write(journal_.request_cancel(id, wall_ms()));
            PeerMessage cancel{job->owner, Command::cancel, job_notice(id, config_.name)};
            to_peer(cancel.node, cancel.command, cancel.body);
            outbox_.cancel_sent(id, std::move(cancel));
        }
        reply_job(client, request_id, job->record);
        return;
    }
    if (!job) {
        auto stored = journal_.find(id);
        if (stored && *stored) {
            reply_job(client, request_id, **stored);  // already terminal: a cancel changes nothing
            return;
        }
        reply(client, Command::control_reply, control_error_body(request_id, "no job " + id));
        return;
    }
    JobState state = job->record.state;
    if (state == JobState::queued || state == JobState::waiting || state == JobState::retrying ||
        state == JobState::scheduled) {
        unqueue(*job);
        finish(*job, JobState::canceled, {}, "canceled before it ran");
    } else if (state == JobState::accepted && !job->record.cancel_requested) {
        // Its claim is out: the id may be another node's. The request is journaled and the job
        // ends canceled once the claim is granted (dispatcher_claims.cpp).
        job->record.cancel_requested = true;
        journal_write(journal_.request_cancel(id, wall_ms()));
    } else if (state == JobState::running && !job->record.cancel_requested) {
        // The pool asks the task to stop and kills it after cancel_grace; the request is
        // journaled so that a restart in between still ends the job canceled.
        job->record.cancel_requested = true;
        journal_write(journal_.request_cancel(id, wall_ms()));
        pool_.cancel(id);
    }
    if (!origin) reply_job(client, request_id, job->record);
}

bool Dispatcher::watch(const std::string& client, std::string_view id) {
    if (Job* job = jobs_.find(id)) {
        add_watcher(*job, client);
        return true;
    }
    auto stored = journal_.find(id);
    if (!stored || !*stored) return false;
    // A watcher hears only an outcome. A job that is not held here is terminal, or it is a
    // copy another node holds (its claim was lost): that one is watched at its holder.
    if (!is_terminal((*stored)->state)) return false;
    reply_state(client, **stored);
    return true;
}

Result<JobRecord> Dispatcher::find(std::string_view id) {
    if (Job* job = jobs_.find(id)) return shown(*job);
    auto stored = journal_.find(id);
    if (!stored) return Error{stored.error()};
    if (!*stored) return Error{"no job " + std::string(id), ErrorCode::not_found};
    return std::move(**stored);
}

JobRecord Dispatcher::shown(const Job& job) {
    if (!job.journaled_state) return job.record;
    // Its outcome is in memory only: status says what the journal holds until it is written.
    auto stored = journal_.find(job.record.id);
    if (stored && *stored) return std::move(**stored);
    JobRecord record = job.record;
    record.state = *job.journaled_state;
    record.result.clear();
    record.error.clear();
    return record;
}

void Dispatcher::enqueue(Job& job) {
    JobRecord& record = job.record;
    // A workflow runs nowhere: its steps do (dispatcher_workflows.cpp).
    if (is_workflow(record)) {
        start_workflow(job);
        return;
    }
    const std::int64_t now = wall_ms();
    if (expire_if_due(job, now)) return;
    watch_expiry(job);
    if (record.eta_ms > now) {
        // Not before its ETA: it waits here, wherever it will run, and is placed when due.
        if (record.state != JobState::scheduled) change_state(job, JobState::scheduled);
        wait_until(job, record.eta_ms);
        return;
    }
    // A job with a key or a queue limited across the cluster waits here for its slots.
    if (!key_gate_open(job)) return;
    if (record.state == JobState::scheduled) change_state(job, JobState::queued);
    placement_dirty_ = true;
    // A job forwarded here runs here; the origin chose this node.
    if (!job.record.origin.empty() || runs_here(job.record, local_)) {
        ready_.push(job);
    } else {
        elsewhere_.add(job);
    }
}

void Dispatcher::unqueue(Job& job) {
    ready_.remove(job);
    gate_.remove(job);
    elsewhere_.remove(job);
    wakeups_.remove(job);
    expiries_.remove(job);
}

bool Dispatcher::expire_if_due(Job& job, std::int64_t now_ms) {
    if (job.record.expires_ms <= 0 || job.record.expires_ms > now_ms) return false;
    expire(job);
    return true;
}

void Dispatcher::expire(Job& job) {
    unqueue(job);
    const bool retried = job.record.attempts > 0;
    finish(job, JobState::expired, {},
           "expired at " + format_rfc3339(job.record.expires_ms) +
               (retried ? " before its next attempt" : " before it started"));
}

void Dispatcher::start_ready_jobs() {
    // Idle workers first, then peers with free workers, and only what is left is prefetched:
    // held by a busy worker, behind its running task.
    start_on_workers(false);
    if (placement_dirty_ && peers_.views && forwarding_) place_elsewhere();
    start_on_workers(true);
    if (std::size_t waiting = ready_.size() + pool_.unstarted(); waiting > 0) pool_.grow_for(waiting);
    pool_.balance();
}

void Dispatcher::start_on_workers(bool prefetch) {
    // Jobs the capacity gate held that may fit now go back to the front of their priority, in
    // the order they were held (capacity_gate.hpp).
    gate_.take_woken(woken_);
    for (auto each = woken_.rbegin(); each != woken_.rend(); ++each) ready_.push_front(**each);
    woken_.clear();
    // Workers hold more than one task only when the queue is deep: when it has enough jobs to
    // fill every worker's prefetch. Below that, a job waits at the node, visibly queued.
    if (prefetch && ready_.size() < config_.prefetch * pool_.size()) return;
    const std::int64_t now = wall_ms();
    while (Job* next = ready_.front()) {
        // It never runs late: a job whose expiry passed since it was queued ends here.
        if (expire_if_due(*next, now)) continue;
        CapacityGate::Verdict verdict = gate_.admit(*next);
        // Prefetch reaches busy workers only (the first pass took every idle one), and holds
        // plain jobs, which take a unit only when their worker starts them: free units do not
        // matter yet, an exclusive job first in line does.
        if (prefetch && (!gate_.prefetchable(next->record) || verdict == CapacityGate::Verdict::behind_exclusive)) {
            break;
        }
        auto worker = pool_.reserve_worker(prefetch ? prefetch_for(next->record, next->returned, config_) : 1);
        if (!worker) break;
        // A job the gate refuses waits aside, so that the jobs behind it that fit still start.
        if (!prefetch && verdict != CapacityGate::Verdict::start) {
            pool_.release(*worker);
            gate_.hold(*ready_.pop(), verdict);
            continue;
        }
        Job& job = *ready_.pop();
        job.worker = *worker;
        gate_.handed_over(job, !prefetch);
        if (job.record.expires_ms > 0) expiries_.remove(job);  // it started: past expiring
        ++job.record.attempts;
        job.record.next_attempt_ms = 0;
        change_state(job, JobState::running);
        turn_.start(job, *worker);
    }
}

void Dispatcher::on_task_returned(std::string_view id) {
    Job* job = jobs_.find(id);
    if (!job || job->record.state != JobState::running) return;
    leave_worker(*job);
    if (job->record.cancel_requested) {
        finish(*job, JobState::canceled, {}, "canceled before it ran");
        return;
    }
    // It never started: the attempt does not count, and it goes to the front of its queue.
    --job->record.attempts;
    change_state(*job, JobState::queued);
    job->returned = true;
    ready_.push_front(*job);
}

void Dispatcher::change_state(Job& job, JobState state, std::string_view result, std::string_view error) {
    jobs_.set_state(job, state);
    job.record.result.assign(result);
    job.record.error.assign(error);
    job.record.updated_ms = wall_ms();
    if (state != JobState::retrying) job.record.next_attempt_ms = 0;
    journal_write(journal_.update_state(job.record));
    note_event(job.record);
    // The owner tells the origin that the job started; terminal states go out (and are kept
    // until acknowledged) when the turn is sent.
    if (!job.record.origin.empty() && state == JobState::running) {
        to_peer(job.record.origin, Command::state, job_body(job.record));
    }
}

void Dispatcher::finish(Job& job, JobState state, std::string_view result, std::string_view error) {
    if (job.record.expires_ms > 0) expiries_.remove(job);
    if (!key_outbox_.empty() && job.record.origin.empty()) release_key_slots(job.record.id);
    change_state(job, state, result, error);
    leave_worker(job);
    turn_.finish(job);
    // At the origin, the end of a workflow's step releases the steps after it in this turn.
    if (job.record.origin.empty()) {
        if (workflows_.size() > 0) workflow_step_ended(job);
        if (!job.record.carried.empty() && !is_broadcast(job.record)) release_links(job);
    }
}

void Dispatcher::leave_worker(Job& job) {
    job.worker = 0;
    gate_.left_worker(job);
}

void Dispatcher::on_task_started(std::string_view id) {
    if (Job* job = jobs_.find(id); job && job->record.state == JobState::running) gate_.started(*job);
}

std::string Dispatcher::too_heavy_reason(const JobRecord& job) const {
    return heavier_than_every_node(job, local_, peers_.views ? peers_.views() : std::vector<PeerView>{});
}

void Dispatcher::journal_write(const Status& status) { turn_.journal_write(status); }

void Dispatcher::on_task_done(std::string_view id, const TaskOutcome& outcome) {
    Job* job = jobs_.find(id);
    if (!job || job->record.state != JobState::running) {
        spdlog::warn("worker reported job {} which is not running here; ignored", id);
        return;
    }
    // A task that finished its work despite a stop request still succeeded.
    if (outcome.ok) {
        finish(*job, JobState::succeeded, outcome.result, {});
        return;
    }
    end_unsuccessful(*job, {outcome.reason, std::string(outcome.error), false, outcome.retry});
}

void Dispatcher::on_worker_lost(std::string_view id, const std::string& explanation, StopReason reason) {
    Job* job = jobs_.find(id);
    if (!job || is_terminal(job->record.state)) return;
    end_unsuccessful(*job, {reason, explanation, true, {}});
}

void Dispatcher::end_unsuccessful(Job& job, const RunFailure& failure) {
    std::uniform_real_distribution<double> uniform(0.0, 1.0);
    RunEnd end = unsuccessful_end(job.record, failure, config_, uniform(random_));
    if (end.state != JobState::retrying) {
        finish(job, end.state, {}, end.error);
        return;
    }
    schedule_retry(job, end.retry_in);
    change_state(job, JobState::retrying, {}, end.error);
}

void Dispatcher::schedule_retry(Job& job, double delay_seconds) {
    leave_worker(job);
    const std::int64_t due = wall_ms() + static_cast<std::int64_t>(delay_seconds * 1000);
    job.record.next_attempt_ms = std::max<std::int64_t>(due, 1);  // journaled with the state
    wait_until(job, job.record.next_attempt_ms);
}

void Dispatcher::wait_until(Job& job, std::int64_t due_ms) {
    watch_expiry(job);
    wakeups_.add(job, due_ms);
    arm_clock_timer();
}

void Dispatcher::watch_expiry(Job& job) {
    if (job.record.expires_ms <= 0 || expiries_.contains(job)) return;
    expiries_.add(job, job.record.expires_ms);
    arm_clock_timer();
}

void Dispatcher::on_clock() {
    const std::int64_t now = wall_ms();
    for (Job* job : expiries_.take_due(now)) {
        // A job that started, or runs on a peer (which expires it itself), is past expiring.
        const JobState state = job->record.state;
        if (state == JobState::running || is_terminal(state) || !job->owner.empty()) continue;
        expire(*job);
    }
    for (Job* job : wakeups_.take_due(now)) {
        change_state(*job, JobState::queued);
        enqueue(*job);
    }
    arm_clock_timer();
}

void Dispatcher::arm_clock_timer() {
    auto wake = wakeups_.next_due(), expiry = expiries_.next_due();
    if (!wake && !expiry) return;
    const std::int64_t next = std::min(wake.value_or(INT64_MAX), expiry.value_or(INT64_MAX));
    clock_timer_.start(static_cast<double>(std::max<std::int64_t>(0, next - wall_ms())) / 1000.0);
}

void Dispatcher::fail_running(const std::string& explanation) {
    std::vector<Job*> running, queued_runs;
    jobs_.for_each([&](Job& job) {
        const JobRecord& record = job.record;
        // Jobs running on a peer go on there; the owner reports them when this node is back.
        if (record.state == JobState::running && job.owner.empty() && !is_workflow(record)) running.push_back(&job);
        // Another node's broadcast not yet started here: its origin counts this node as left,
        // and a broadcast is not kept for a node's return.
        bool queued = record.state == JobState::queued || record.state == JobState::retrying;
        if (queued && !record.origin.empty() && !broadcast_of_run(record.id).empty()) queued_runs.push_back(&job);
    });
    for (Job* job : running) finish(*job, JobState::error, {}, explanation);
    for (Job* job : queued_runs) {
        unqueue(*job);
        finish(*job, JobState::canceled, {}, explanation + " before the broadcast ran here");
    }
}

std::vector<std::string> Dispatcher::running_jobs() const {
    std::vector<std::string> ids;
    jobs_.for_each([&ids](const Job& job) {
        if (job.journaled_state.value_or(job.record.state) == JobState::running) ids.push_back(job.record.id);
    });
    std::sort(ids.begin(), ids.end());
    return ids;
}

void Dispatcher::add_watcher(Job& job, const std::string& client) {
    // A client that asks again (a wait() that polls) is one watcher, not one per request.
    if (std::find(job.watchers.begin(), job.watchers.end(), client) != job.watchers.end()) return;
    if (job.watchers.size() >= kMaxWatchersPerJob) {
        spdlog::warn("job {} has {} watchers already; one more is not added", job.record.id, job.watchers.size());
        return;
    }
    job.watchers.push_back(client);
}

void Dispatcher::reply(const std::string& client, Command command, std::string body) {
    turn_.reply(client, command, std::move(body));
}

void Dispatcher::reply_job(const std::string& client, RequestId request_id, const JobRecord& job) {
    reply(client, Command::control_reply, control_reply_body(request_id, job_data(job)));
}

void Dispatcher::reply_accepted(const std::string& client, const JobRecord& job, bool duplicate) {
    reply(client, Command::accepted, accepted_body(job.id, job.state, config_.name, duplicate));
}

void Dispatcher::reply_rejected(const std::string& client, std::string_view id, const std::string& reason) {
    reject(turn_, client, id, reason);
}

void Dispatcher::reject(Turn& turn, const std::string& client, std::string_view id, const std::string& reason) {
    rejections_.count(reason);
    turn.reply(client, Command::rejected, rejected_body(id, reason));
}

void Dispatcher::reply_state(const std::string& client, const JobRecord& job) {
    reply(client, Command::state, job_body(job));
}

void Dispatcher::note_event(const JobRecord& job) {
    if (!publisher_ || !publisher_->wants_events()) return;
    const std::int64_t next = job.state == JobState::scheduled ? job.eta_ms : job.next_attempt_ms;
    JobEvent event{job.id, std::string(to_string(job.state)), job.task, job.queue, job.error, job.attempts, next, {}, {}};
    if (auto workflow = workflow_of(job)) std::tie(event.workflow, event.step) = std::move(*workflow);
    turn_.event(std::move(event));
}

void Dispatcher::end_turn() {
    // Between turns, when nothing is uncommitted (dispatcher_claims.cpp).
    if (!hand_back_due_.empty() && !turn_.wrote()) hand_back_claims();
    if (turn_.has_rewrites()) rejournal_unwritten();
    if (members_dirty_) refresh_members();
    start_ready_jobs();
    if (awaiting_claims_.has_unsent()) send_new_claims();
    if (turn_.empty()) return;
    Turn turn = std::exchange(turn_, Turn{});
    std::string failure = turn.journal_error();
    if (failure.empty()) {
        if (auto committed = journal_.commit(); !committed) failure = committed.error();
    } else {
        journal_.rollback();
    }
    if (!failure.empty()) commit_failed(turn, failure);
    if (commit_listener_) commit_listener_(failure.empty());
    send_turn(turn);
    ZQ_ASSERT(jobs_.counts_match_states(), "the counts by state equal the states of the jobs held");
}

void Dispatcher::commit_failed(Turn& turn, const std::string& reason) {
    spdlog::error("journal write failed, {} submissions rejected: {}", turn.accepted().size(), reason);
    Turn::Undo undo = turn.fail();
    // Every submitter hears (a job submitted twice in the turn is rejected twice), then each
    // job the journal does not have is forgotten once.
    for (const Turn::Accepted& each : undo.rejected) {
        reject(turn, each.client, each.job->record.id, "journal unwritable: " + reason);
    }
    for (Job* job : undo.dropped) {
        // The journal does not have it: no queue, schedule, outbox or worker keeps it. A peer
        // that forwarded it sends it again, as no TAKEN comes.
        unqueue(*job);
        outbox_.forget(job->record.id);
        awaiting_claims_.forget(job->record.id);
        if (!key_outbox_.empty()) release_key_slots(job->record.id);
        broadcasts_.drop(job->record.id);
        if (job->worker) pool_.release(job->worker);
        leave_worker(*job);
        jobs_.drop(*job);
    }
    // Jobs about to start go back to the front of their queue; nothing was sent to a worker.
    for (const Turn::Started& each : undo.put_back) {
        pool_.release(each.worker);
        leave_worker(*each.job);
        --each.job->record.attempts;
        jobs_.set_state(*each.job, JobState::queued);
        ready_.push_front(*each.job);
    }
    // Outcomes stay in memory and are journaled again until the journal takes them; their
    // watchers hear nothing until then. Reports and cancels to peers are resent by
    // resend_to_peers() as usual.
    // Until then, status shows such a job as the journal has it (JobTable::outcome_unwritten).
    for (Job* job : undo.unwritten) {
        if (job->journaled_state) continue;
        auto stored = journal_.find(job->record.id);
        jobs_.outcome_unwritten(*job, stored && *stored ? (*stored)->state : JobState::running);
    }
    turn_.rewrite_later(std::move(undo.unwritten), std::move(undo.unwritten_outcomes));
    // Jobs placed on peers keep their owner: the row is written again, and the FORWARD goes
    // out from the peer outbox once a commit has taken it.
    turn_.rewrite_placements_later(std::move(undo.unwritten_placements));
    rejournal_timer_.start(kRejournalInterval);
}

void Dispatcher::rejournal_unwritten() {
    Turn::Rewrites rewrites = turn_.take_rewrites();
    for (const auto& id : rewrites.outcomes) {
        if (Job* job = jobs_.find(id); job && !is_terminal(job->record.state)) write_outcomes(*job);
    }
    for (Job* job : rewrites.jobs) {
        const JobRecord& record = job->record;
        journal_write(journal_.update_state(record));
        note_event(record);  // the event of the failed turn was dropped with it
        turn_.finish(*job);
    }
    for (Job* job : rewrites.placements) {
        // An outcome since then was written with the owner (above, or by its own turn).
        if (is_terminal(job->record.state) || job->owner.empty()) continue;
        journal_write(journal_.update_state(job->record));
        turn_.place(*job);
    }
}

void Dispatcher::deliver(const std::string& client, Command command, std::string_view body) {
    // A job submitted inside the node (a schedule's tick) has no client to answer.
    if (client.empty()) return;
    if (!send_(client, command, body)) ++undeliverable_;
}

void Dispatcher::send_turn(Turn& turn) {
    for (const Turn::Accepted& each : turn.accepted()) {
        if (each.client.empty()) continue;  // a peer's job: TAKEN goes to it
        const JobRecord& job = each.job->record;
        // It waits for its claim: ACCEPTED goes out with the home's answer (dispatcher_claims.cpp).
        if (job.state == JobState::accepted) continue;
        // A keyed job waiting for its slot, or dropped as a duplicate (dispatcher_keys.cpp).
        if (!key_outbox_.empty() || !each.job->dedup.empty()) {
            if (auto body = keyed_answer(each.client, *each.job)) {
                if (!body->empty()) deliver(each.client, Command::accepted, *body);
                continue;
            }
        }
        // A job's state when it was accepted: a broadcast is running at once, a job with an
        // ETA ahead is scheduled.
        JobState accepted = is_broadcast(job) || is_workflow(job) ? JobState::running
                            : job.eta_ms > job.created_ms ? JobState::scheduled
                                                          : JobState::queued;
        deliver(each.client, Command::accepted, accepted_body(job.id, accepted, config_.name, false));
    }
    for (const ClientMessage& reply : turn.replies()) deliver(reply.client, reply.command, reply.body);
    for (const PeerMessage& message : turn.to_peers()) {
        // A peer that cannot be reached now hears it again from resend_to_peers().
        if (peers_.send && !peers_.send(message.node, message.command, message.body)) ++undeliverable_;
    }
    for (const Turn::Started& each : turn.started()) {
        pool_.run(each.worker, run_request(each.job->record, config_));
    }
    pool_.flush();
    publish_broadcasts(turn.broadcasts());
    for (Job* job : turn.finished()) settle(*job);
    if (publisher_) {
        for (const JobEvent& event : turn.events()) publisher_->publish_event(event);
    }
}

void Dispatcher::settle(Job& job) {
    const JobRecord& record = job.record;
    if (record.origin == config_.name) {
        // This node's run of its own broadcast.
        record_outcome(std::string(broadcast_of_run(record.id)), config_.name, record.state, record.result,
                       record.error);
    } else if (!record.origin.empty()) {
        // Store and forward: the outcome is resent until the origin acknowledges it.
        PeerMessage report{record.origin, Command::state, job_body(record)};
        if (peers_.send) peers_.send(report.node, report.command, report.body);
        outbox_.reported(record.id, std::move(report));
    }
    outbox_.forget(record.id);
    ZQ_ASSERT(is_terminal(record.state), "a job settled (and its watchers told) is terminal");
    if (!job.watchers.empty() && is_terminal(record.state)) {
        std::string body = job_data(record);
        for (const auto& client : job.watchers) deliver(client, Command::state, body);
    }
    ZQ_ASSERT(!ready_.contains(job) && !gate_.holds(job) && !elsewhere_.contains(job) && !wakeups_.contains(job) &&
                  !expiries_.contains(job) && !outbox_.tracks(record.id) && !broadcasts_.holds(record.id) &&
                  !awaiting_claims_.holds(record.id) && !key_outbox_.holds(record.id),
              "a finished job is in no queue, schedule, outbox or book when the table forgets it");
    jobs_.release(job);
}

}  // namespace zq::node
