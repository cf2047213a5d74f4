#include "dispatcher.hpp"

#include "clock.hpp"

#include <zq/task.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
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

std::size_t index_of(JobState state) { return static_cast<std::size_t>(state); }

}  // namespace

JobRecord record_from(Task&& task, std::int64_t now, const std::string& node) {
    JobRecord job;
    job.id = std::move(task.id);
    job.task = std::move(task.name);
    job.queue = std::move(task.queue);
    job.target = std::move(task.target);
    job.priority = task.priority;
    job.args = std::move(task.args);
    job.kwargs = std::move(task.kwargs);
    if (!task.headers.empty()) job.headers = pack(task.headers);
    job.soft_time_limit = task.soft_time_limit;
    job.hard_time_limit = task.hard_time_limit;
    job.max_retries = task.max_retries;
    job.retry_delay = task.retry_delay;
    job.state = JobState::queued;
    job.node = node;
    job.created_ms = now;
    job.updated_ms = now;
    return job;
}

void write_job(BodyWriter& body, const JobRecord& job) {
    body.add(f::id, job.id).add(f::state, to_string(job.state)).add(f::task, job.task).add(f::node, job.node);
    if (!job.result.empty()) body.add_packed(f::result, job.result);
    if (!job.error.empty()) body.add(f::error, job.error);
}

Dispatcher::Dispatcher(uv_loop_t* loop, const Config& config, Journal& journal, Pool& pool, ReplySender send)
    : config_(config), journal_(journal), pool_(pool), send_(std::move(send)),
      local_{config.name, config.queues, false}, peer_timer_(loop, [this] { resend_to_peers(); }),
      owner_check_timer_(loop, [this] { reap_silent_owners(); }), rejournal_timer_(loop, [this] { end_turn(); }),
      retry_timer_(loop, [this] { requeue_due_retries(); }) {}

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
    counts_.fill(0);
    for (auto& [state, count] : *counts) counts_[index_of(state)] = count;
}

Status Dispatcher::recover() {
    recount_states();

    auto unfinished = journal_.unfinished();
    if (!unfinished) return Error{unfinished.error()};
    std::size_t resumed = 0, failed = 0, canceled = 0;
    for (JobRecord& record : *unfinished) {
        auto job = std::make_unique<Job>();
        job->record = std::move(record);
        Job& ref = *job;
        active_.emplace(ref.record.id, std::move(job));
        if (is_broadcast(ref.record)) {
            restore_broadcast(ref);
            ++resumed;
        } else if (ref.record.origin.empty() && !ref.record.node.empty() && ref.record.node != config_.name) {
            // Placed on a peer before the restart: the owner still runs it and reports to us
            // (it keeps the outcome until we acknowledge it).
            ref.owner = ref.record.node;
            ref.taken = true;
            if (ref.record.cancel_requested) cancels_sent_.insert(ref.record.id);
            ++resumed;
        } else if (ref.record.cancel_requested) {
            finish(ref, JobState::canceled, {}, "canceled while the node was down");
            ++canceled;
        } else if (ref.record.state == JobState::running) {
            finish(ref, JobState::failed, {}, kRestartedExplanation);
            ++failed;
        } else {
            if (ref.record.state != JobState::queued) change_state(ref, JobState::queued);
            enqueue(ref);
            ++resumed;
        }
    }
    if (peers_.alive && std::any_of(active_.begin(), active_.end(), [](const auto& entry) { return !entry.second->owner.empty(); })) {
        owner_check_timer_.start(config_.heartbeat_interval * (config_.heartbeat_liveness + 1));
    }
    if (resumed + failed + canceled > 0) {
        spdlog::info("journal: {} queued jobs resumed, {} running jobs failed ({}), {} canceled", resumed, failed,
                     kRestartedExplanation, canceled);
    }
    return load_unacknowledged_reports();
}

Status Dispatcher::load_unacknowledged_reports() {
    auto reports = journal_.unacknowledged_reports();
    if (!reports) return Error{reports.error()};
    for (const JobRecord& job : *reports) {
        BodyWriter body;
        write_job(body, job);
        unacknowledged_[job.id] = Report{job.origin, std::string(body.finish())};
    }
    if (!reports->empty()) {
        spdlog::info("journal: {} outcomes of forwarded jobs not yet acknowledged by their origin; resending",
                     reports->size());
    }
    return success();
}

Dispatcher::Job* Dispatcher::active(std::string_view id) {
    auto found = active_.find(std::string(id));
    return found == active_.end() ? nullptr : found->second.get();
}

void Dispatcher::submit(const std::string& client, const Message& message) {
    auto task = read_task(message, config_.limits);
    std::string id(message.string(f::id).value_or(""));
    if (!task) {
        reply_rejected(client, id, "bad task: " + task.error());
        return;
    }
    if (id.find(kRunSeparator) != std::string::npos) {
        reply_rejected(client, id, "bad task: a job id may not contain '@' (it names broadcast runs, ID@NODE)");
        return;
    }
    bool watch = message.boolean(f::watch).value_or(false);
    if (answer_active(client, id, watch)) return;
    if (active_.size() >= config_.max_pending) {
        reply_rejected(client, id, busy_reason());
        return;
    }
    auto job = std::make_unique<Job>();
    job->record = record_from(std::move(*task), wall_ms(), config_.name);
    if (!insert_submitted(client, job->record, watch)) return;
    Job& ref = *job;
    if (watch) add_watcher(ref, client);
    active_.emplace(ref.record.id, std::move(job));
    ++counts_[index_of(JobState::queued)];
    note_event(ref.record);
    enqueue(ref);
    turn_.accepted.push_back(&ref);
    turn_.accepted_by.push_back(client);
}

std::string Dispatcher::busy_reason() const {
    return "node busy: " + std::to_string(active_.size()) + " jobs pending (max_pending " +
           std::to_string(config_.max_pending) + "); retry later";
}

bool Dispatcher::answer_active(const std::string& client, const std::string& id, bool watch) {
    if (Job* known = active(id)) {
        if (watch) add_watcher(*known, client);
        // Submitted twice within one turn: the second submitter's answer, like the first's,
        // waits for the commit (and becomes REJECTED if the commit fails).
        if (std::find(turn_.accepted.begin(), turn_.accepted.end(), known) != turn_.accepted.end()) {
            turn_.accepted.push_back(known);
            turn_.accepted_by.push_back(client);
            return true;
        }
        reply_accepted(client, known->record, true);
        return true;
    }
    return false;
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
        reply_rejected(client, job.id, "job id exists in the journal but cannot be read");
        return false;
    }
    reply_accepted(client, **existing, true);
    if (watch) reply_state(client, **existing);
    return false;
}

void Dispatcher::cancel(const std::string& client, const Message& message) {
    std::string id(*message.string(f::id));
    std::uint64_t request_id = message.unsigned_integer(f::request_id).value_or(0);
    // An origin canceling at its owner hears the outcome as STATE, not as a reply.
    auto origin = message.string(f::node);
    Job* job = active(id);
    if (origin) {
        if (!job) {
            spdlog::info("cancel of job {} from node {}: no such job running here; ignored", id, *origin);
            return;
        }
    }
    if (job && is_broadcast(job->record) && !is_terminal(job->record.state)) {
        BodyWriter body;
        body.add(f::request_id, request_id)
            .add(f::ok, false)
            .add(f::error, "a broadcast is not canceled as a whole; cancel its run on a node: " + id + "@NODE");
        if (!origin) reply(client, Command::control_reply, std::string(body.finish()));
        return;
    }
    if (job && !job->owner.empty() && !is_terminal(job->record.state)) {
        // Placed on a peer: the owner cancels it and reports; until then it stays as it is
        // here. The request is journaled so that it survives a restart of this node, and sent
        // again until the owner reports the end (or is reaped).
        if (!job->record.cancel_requested) {
            job->record.cancel_requested = true;
            journal_write(journal_.request_cancel(id, wall_ms()));
            cancels_sent_.insert(id);
            BodyWriter body;
            body.add(f::id, id).add(f::node, config_.name);
            to_peer(job->owner, Command::cancel, std::string(body.finish()));
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
        BodyWriter body;
        body.add(f::request_id, request_id).add(f::ok, false).add(f::error, "no job " + id);
        reply(client, Command::control_reply, std::string(body.finish()));
        return;
    }
    if (job->record.state == JobState::queued || job->record.state == JobState::waiting ||
        job->record.state == JobState::retrying) {
        remove_from_queue(*job);
        std::erase_if(retries_due_, [job](const auto& due) { return due.second == job; });
        finish(*job, JobState::canceled, {}, "canceled before it ran");
    } else if (job->record.state == JobState::running && !job->record.cancel_requested) {
        // The pool asks the task to stop and kills it after cancel_grace; the request is
        // journaled so that a restart in between still ends the job canceled.
        job->record.cancel_requested = true;
        journal_write(journal_.request_cancel(id, wall_ms()));
        pool_.cancel(id);
    }
    if (!origin) reply_job(client, request_id, job->record);
}

bool Dispatcher::watch(const std::string& client, std::string_view id) {
    if (Job* job = active(id)) {
        add_watcher(*job, client);
        return true;
    }
    auto stored = journal_.find(id);
    if (!stored || !*stored) return false;
    reply_state(client, **stored);
    return true;
}

Result<JobRecord> Dispatcher::find(std::string_view id) {
    if (Job* job = active(id)) return job->record;
    auto stored = journal_.find(id);
    if (!stored) return Error{stored.error()};
    if (!*stored) return Error{"no job " + std::string(id), ErrorCode::not_found};
    return std::move(**stored);
}

void Dispatcher::enqueue(Job& job) {
    placement_dirty_ = true;
    // A job forwarded here runs here; the origin chose this node.
    if (!job.record.origin.empty() || runs_here(job.record, local_)) {
        ready_[job.record.priority].push_back(&job);
        ++ready_count_;
    } else {
        elsewhere_.push_back(&job);
    }
}

void Dispatcher::remove_from_queue(Job& job) {
    std::erase(elsewhere_, &job);
    auto level = ready_.find(job.record.priority);
    if (level == ready_.end()) return;
    auto& jobs = level->second;
    auto found = std::find(jobs.begin(), jobs.end(), &job);
    if (found == jobs.end()) return;
    jobs.erase(found);
    --ready_count_;
    if (jobs.empty()) ready_.erase(level);
}

Dispatcher::Job* Dispatcher::pop_ready() {
    if (ready_.empty()) return nullptr;
    auto level = ready_.begin();
    Job* job = level->second.front();
    level->second.pop_front();
    --ready_count_;
    if (level->second.empty()) ready_.erase(level);
    return job;
}

void Dispatcher::start_ready_jobs() {
    // Idle workers first, then peers with free workers, and only what is left is prefetched:
    // held by a busy worker, behind its running task.
    start_on_workers(false);
    if (placement_dirty_ && peers_.views) place_elsewhere();
    start_on_workers(true);
    if (ready_count_ + pool_.unstarted() > 0) pool_.grow_for(ready_count_ + pool_.unstarted());
    pool_.balance();
}

void Dispatcher::start_on_workers(bool prefetch) {
    // Workers hold more than one task only when the queue is deep: when it has enough jobs to
    // fill every worker's prefetch. Below that, a job waits at the node, visibly queued.
    if (prefetch && ready_count_ < config_.prefetch * pool_.size()) return;
    while (ready_count_ > 0) {
        Job* job = ready_.begin()->second.front();
        auto worker = pool_.reserve_worker(prefetch ? prefetch_for(*job) : 1);
        if (!worker) break;
        pop_ready();
        job->worker = *worker;
        ++job->record.attempts;
        // Attempts matter only to a retry policy; skip the write on the common path.
        if (job->record.max_retries > 0) {
            journal_write(journal_.update_attempts(job->record.id, job->record.attempts, wall_ms()));
        }
        change_state(*job, JobState::running);
        turn_.started.emplace_back(job, *worker);
    }
}

std::size_t Dispatcher::prefetch_for(const Job& job) const {
    // A job taken back from a worker waits for a free one: it already waited behind a task.
    if (job.returned) return 1;
    if (auto task = config_.tasks.find(job.record.task); task != config_.tasks.end() && task->second.prefetch) {
        return task->second.prefetch;
    }
    if (auto queue = config_.queue_settings.find(job.record.queue);
        queue != config_.queue_settings.end() && queue->second.prefetch) {
        return queue->second.prefetch;
    }
    return config_.prefetch;
}

void Dispatcher::on_task_returned(std::string_view id) {
    Job* job = active(id);
    if (!job || job->record.state != JobState::running) return;
    job->worker = 0;
    if (job->record.cancel_requested) {
        finish(*job, JobState::canceled, {}, "canceled before it ran");
        return;
    }
    // It never started: the attempt does not count, and it goes to the front of its queue.
    --job->record.attempts;
    if (job->record.max_retries > 0) {
        journal_write(journal_.update_attempts(job->record.id, job->record.attempts, wall_ms()));
    }
    change_state(*job, JobState::queued);
    job->returned = true;
    ready_[job->record.priority].push_front(job);
    ++ready_count_;
}


void Dispatcher::change_state(Job& job, JobState state, std::string_view result, std::string_view error) {
    --counts_[index_of(job.record.state)];
    ++counts_[index_of(state)];
    job.record.state = state;
    job.record.result.assign(result);
    job.record.error.assign(error);
    job.record.updated_ms = wall_ms();
    journal_write(journal_.update_state(job.record.id, state, result, error, job.record.node, job.record.updated_ms));
    note_event(job.record);
    // The owner tells the origin that the job started; terminal states go out (and are kept
    // until acknowledged) when the turn is sent.
    if (!job.record.origin.empty() && state == JobState::running) {
        BodyWriter body;
        write_job(body, job.record);
        to_peer(job.record.origin, Command::state, std::string(body.finish()));
    }
}

void Dispatcher::finish(Job& job, JobState state, std::string_view result, std::string_view error) {
    change_state(job, state, result, error);
    job.worker = 0;
    turn_.finished.push_back(&job);
}

void Dispatcher::journal_write(const Status& status) {
    turn_.wrote = true;
    if (!status && turn_.journal_error.empty()) turn_.journal_error = status.error();
}

namespace {

std::string seconds_text(double seconds) {
    char text[32];
    std::snprintf(text, sizeof text, "%gs", seconds);
    return text;
}

}  // namespace

void Dispatcher::on_task_done(std::string_view id, bool ok, std::string_view result, std::string_view error,
                              StopReason reason) {
    Job* job = active(id);
    if (!job || job->record.state != JobState::running) {
        spdlog::warn("worker reported job {} which is not running here; ignored", id);
        return;
    }
    // A task that finished its work despite a stop request still succeeded.
    if (ok) {
        finish(*job, JobState::succeeded, result, {});
        return;
    }
    end_unsuccessful(*job, reason, std::string(error));
}

void Dispatcher::on_worker_lost(std::string_view id, const std::string& explanation, StopReason reason) {
    Job* job = active(id);
    if (!job || is_terminal(job->record.state)) return;
    end_unsuccessful(*job, reason, explanation);
}

std::pair<double, double> Dispatcher::time_limits(const JobRecord& record) const {
    double soft = record.soft_time_limit, hard = record.hard_time_limit;
    // [tasks.NAME] supplies the limits a job does not set itself.
    if (auto settings = config_.tasks.find(record.task); settings != config_.tasks.end()) {
        if (soft <= 0) soft = settings->second.soft_time_limit;
        if (hard <= 0) hard = settings->second.hard_time_limit;
    }
    return {soft, hard};
}

void Dispatcher::end_unsuccessful(Job& job, StopReason reason, const std::string& error) {
    const JobRecord& record = job.record;
    auto [soft, hard] = time_limits(record);
    if (reason == StopReason::canceled || record.cancel_requested) {
        finish(job, JobState::canceled, {}, "canceled while running: " + error);
    } else if (reason == StopReason::soft_time_limit) {
        finish(job, JobState::failed, {}, "soft time limit (" + seconds_text(soft) + ") exceeded");
    } else if (reason == StopReason::hard_time_limit) {
        finish(job, JobState::failed, {}, "hard time limit (" + seconds_text(hard) + ") exceeded");
    } else if (record.attempts <= record.max_retries) {
        change_state(job, JobState::retrying, {}, error);
        schedule_retry(job);
    } else {
        finish(job, JobState::failed, {}, error);
    }
}

void Dispatcher::schedule_retry(Job& job) {
    job.worker = 0;
    std::int64_t due = wall_ms() + static_cast<std::int64_t>(job.record.retry_delay * 1000);
    retries_due_.emplace(due, &job);
    std::int64_t first = retries_due_.begin()->first;
    retry_timer_.start(static_cast<double>(std::max<std::int64_t>(0, first - wall_ms())) / 1000.0);
}

void Dispatcher::requeue_due_retries() {
    std::int64_t now = wall_ms();
    while (!retries_due_.empty() && retries_due_.begin()->first <= now) {
        Job* job = retries_due_.begin()->second;
        retries_due_.erase(retries_due_.begin());
        change_state(*job, JobState::queued);
        enqueue(*job);
    }
    if (!retries_due_.empty()) {
        retry_timer_.start(static_cast<double>(retries_due_.begin()->first - now) / 1000.0);
    }
}

void Dispatcher::fail_running(const std::string& explanation) {
    std::vector<Job*> queued_runs;
    for (auto& [id, job] : active_) {
        // Jobs running on a peer go on there; the owner reports them when this node is back.
        if (job->record.state == JobState::running && job->owner.empty()) {
            finish(*job, JobState::failed, {}, explanation);
        }
        // Another node's broadcast not yet started here: its origin counts this node as left,
        // and a broadcast is not kept for a node's return.
        bool queued = job->record.state == JobState::queued || job->record.state == JobState::retrying;
        if (queued && !job->record.origin.empty() && !broadcast_of_run(id).empty()) queued_runs.push_back(job.get());
    }
    for (Job* job : queued_runs) {
        remove_from_queue(*job);
        std::erase_if(retries_due_, [job](const auto& due) { return due.second == job; });
        finish(*job, JobState::canceled, {}, explanation + " before the broadcast ran here");
    }
}

std::vector<std::string> Dispatcher::running_jobs() const {
    std::vector<std::string> ids;
    for (auto& [id, job] : active_) {
        if (job->record.state == JobState::running) ids.push_back(id);
    }
    std::sort(ids.begin(), ids.end());
    return ids;
}

void Dispatcher::reply(const std::string& client, Command command, std::string body) {
    turn_.replies.push_back({client, command, std::move(body)});
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

void Dispatcher::reply_job(const std::string& client, std::uint64_t request_id, const JobRecord& job) {
    BodyWriter job_map;
    write_job(job_map, job);
    BodyWriter body;
    body.add(f::request_id, request_id).add(f::ok, true).add_packed(f::data, job_map.finish());
    reply(client, Command::control_reply, std::string(body.finish()));
}

void Dispatcher::reply_accepted(const std::string& client, const JobRecord& job, bool duplicate) {
    BodyWriter body;
    body.add(f::id, job.id).add(f::state, to_string(job.state)).add(f::node, config_.name);
    if (duplicate) body.add(f::duplicate, true);
    reply(client, Command::accepted, std::string(body.finish()));
}

void Dispatcher::reply_rejected(const std::string& client, std::string_view id, const std::string& reason) {
    ++rejected_;
    BodyWriter body;
    body.add(f::reason, reason);
    if (!id.empty()) body.add(f::id, id);
    reply(client, Command::rejected, std::string(body.finish()));
}

void Dispatcher::reply_state(const std::string& client, const JobRecord& job) {
    BodyWriter body;
    write_job(body, job);
    reply(client, Command::state, std::string(body.finish()));
}

void Dispatcher::end_turn() {
    if (!unwritten_.empty() || !unwritten_outcomes_.empty()) rejournal_unwritten();
    start_ready_jobs();
    if (turn_.empty()) return;
    Turn turn = std::move(turn_);
    turn_ = Turn{};
    std::string failure = turn.journal_error;
    if (failure.empty()) {
        if (auto committed = journal_.commit(); !committed) failure = committed.error();
    } else {
        journal_.rollback();
    }
    if (!failure.empty()) commit_failed(turn, failure);
    send_turn(turn);
}

void Dispatcher::commit_failed(Turn& turn, const std::string& reason) {
    spdlog::error("journal write failed, {} submissions rejected: {}", turn.accepted.size(), reason);
    // Every submitter hears first (a job submitted twice in the turn appears twice), then
    // each job goes once.
    for (std::size_t i = 0; i < turn.accepted.size(); ++i) {
        if (!turn.accepted_by[i].empty()) {
            reply_rejected(turn.accepted_by[i], turn.accepted[i]->record.id, "journal unwritable: " + reason);
        }
    }
    std::sort(turn.accepted.begin(), turn.accepted.end());
    turn.accepted.erase(std::unique(turn.accepted.begin(), turn.accepted.end()), turn.accepted.end());
    for (Job* job : turn.accepted) {
        remove_from_queue(*job);
        --counts_[index_of(job->record.state)];
        untaken_.erase(job->record.id);
        std::erase(turn.started, std::pair<Job*, WorkerId>{job, job->worker});
        std::erase(turn.finished, job);
        if (job->worker) pool_.release(job->worker);
        broadcasts_.erase(job->record.id);
        std::erase(turn.broadcasts, job);
        active_.erase(job->record.id);
    }
    // Events tell what the journal holds; this turn's changes are not in it.
    turn.events.clear();
    turn.replies.insert(turn.replies.end(), std::make_move_iterator(turn_.replies.begin()),
                        std::make_move_iterator(turn_.replies.end()));
    turn_.replies.clear();
    turn.accepted.clear();
    // Nothing a peer hears may get ahead of the journal: FORWARDs, reports and cancels are
    // sent again by resend_to_peers(), TAKEN when the origin forwards again.
    turn.to_peers.clear();
    // Jobs about to start go back to the front of their queue; nothing was sent to a worker.
    for (auto it = turn.started.rbegin(); it != turn.started.rend(); ++it) {
        auto [job, worker] = *it;
        pool_.release(worker);
        job->worker = 0;
        --job->record.attempts;
        --counts_[index_of(job->record.state)];
        ++counts_[index_of(JobState::queued)];
        job->record.state = JobState::queued;
        ready_[job->record.priority].push_front(job);
        ++ready_count_;
    }
    turn.started.clear();
    // Outcomes stay in memory and are journaled again until the journal takes them; their
    // watchers hear nothing until then.
    for (Job* job : turn.finished) unwritten_.push_back(job);
    unwritten_outcomes_.insert(unwritten_outcomes_.end(), turn.outcome_writes.begin(), turn.outcome_writes.end());
    turn.finished.clear();
    rejournal_timer_.start(kRejournalInterval);
}

void Dispatcher::rejournal_unwritten() {
    for (const auto& id : unwritten_outcomes_) {
        if (Job* job = active(id); job && !is_terminal(job->record.state)) write_outcomes(*job);
    }
    unwritten_outcomes_.clear();
    for (Job* job : unwritten_) {
        journal_write(journal_.update_state(job->record.id, job->record.state, job->record.result,
                                            job->record.error, job->record.node, job->record.updated_ms));
        note_event(job->record);  // the event of the failed turn was dropped with it
        turn_.finished.push_back(job);
    }
    unwritten_.clear();
}

RunRequest Dispatcher::run_request(const Job& job) const {
    const JobRecord& record = job.record;
    RunRequest request{record.id, record.task, record.args, record.kwargs};
    std::tie(request.soft_time_limit, request.hard_time_limit) = time_limits(record);
    if (auto settings = config_.tasks.find(record.task); settings != config_.tasks.end() && settings->second.exec()) {
        request.exec = &settings->second.command;
    }
    return request;
}

void Dispatcher::send_turn(Turn& turn) {
    auto deliver = [this](const std::string& client, Command command, std::string_view body) {
        if (!send_(client, command, body)) ++undeliverable_;
    };
    for (std::size_t i = 0; i < turn.accepted.size(); ++i) {
        BodyWriter body;
        const JobRecord& job = turn.accepted[i]->record;
        if (turn.accepted_by[i].empty()) continue;  // forwarded by a peer: TAKEN goes to it
        // A job's state when it was accepted: a broadcast is running at once.
        JobState accepted = is_broadcast(job) ? JobState::running : JobState::queued;
        body.add(f::id, job.id).add(f::state, to_string(accepted)).add(f::node, config_.name);
        deliver(turn.accepted_by[i], Command::accepted, body.finish());
    }
    for (auto& outgoing : turn.replies) deliver(outgoing.client, outgoing.command, outgoing.body);
    for (auto& message : turn.to_peers) {
        // A peer that cannot be reached now hears it again from resend_to_peers().
        if (peers_.send && !peers_.send(message.node, message.command, message.body)) ++undeliverable_;
    }
    for (auto& [job, worker] : turn.started) pool_.run(worker, run_request(*job));
    pool_.flush();
    publish_broadcasts(turn.broadcasts);
    for (Job* job : turn.finished) {
        if (job->record.origin == config_.name) {
            // This node's run of its own broadcast.
            const JobRecord& run = job->record;
            record_outcome(std::string(broadcast_of_run(run.id)), config_.name, run.state, run.result, run.error);
        } else if (!job->record.origin.empty()) {
            // Store and forward: the outcome is resent until the origin acknowledges it.
            BodyWriter body;
            write_job(body, job->record);
            Report report{job->record.origin, std::string(body.finish())};
            if (peers_.send) peers_.send(report.origin, Command::state, report.body);
            unacknowledged_[job->record.id] = std::move(report);
        }
        untaken_.erase(job->record.id);
        cancels_sent_.erase(job->record.id);
        if (!job->watchers.empty()) {
            BodyWriter body;
            write_job(body, job->record);
            std::string_view bytes = body.finish();
            for (const auto& client : job->watchers) deliver(client, Command::state, bytes);
        }
        active_.erase(job->record.id);
    }
    if (publisher_) {
        for (const JobEvent& event : turn.events) publisher_->publish_event(event);
    }
}

void Dispatcher::note_event(const JobRecord& job) {
    if (!publisher_ || !publisher_->wants_events()) return;
    turn_.events.push_back({job.id, std::string(to_string(job.state)), job.task, job.queue, job.error});
}

}  // namespace zq::node
