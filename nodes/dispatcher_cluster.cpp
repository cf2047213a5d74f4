// The dispatcher across nodes: as origin it places jobs on peers (FORWARD), waits for TAKEN,
// journals the states owners report and reaps the jobs of peers that are lost, left or
// restarted; as owner it journals what an origin forwards and reports back until the origin
// acknowledges. Messages to peers go out with the turn, after the commit (dispatcher.hpp).
#include "dispatcher.hpp"

#include "clock.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>

namespace zq::node {
namespace {

namespace f = protocol::field;
using protocol::Command;

// A FORWARD not answered by TAKEN within this many heartbeat intervals is sent again.
constexpr double kForwardResendIntervals = 1.0;

std::size_t index_of(JobState state) { return static_cast<std::size_t>(state); }

}  // namespace

void Dispatcher::place_elsewhere() {
    placement_dirty_ = false;
    std::vector<PeerView> peers = peers_.views();
    auto has_capacity = [&peers] {
        return std::any_of(peers.begin(), peers.end(), [](const PeerView& peer) { return peer.alive && peer.capacity > 0; });
    };
    auto forward = [&](Job& job, const std::string& name) {
        forward_to(job, name);
        for (PeerView& peer : peers) {
            if (peer.name == name && peer.capacity > 0) --peer.capacity, ++peer.load;
        }
    };
    // Queued jobs this node could run, but no local worker is free (the loop above took them
    // all): a peer with a free worker serving the queue takes them.
    const LocalView& local = local_;
    if (ready_count_ > 0 && has_capacity()) {
        std::vector<std::pair<Job*, std::string>> moves;
        for (auto& [priority, jobs] : ready_) {
            for (Job* job : jobs) {
                if (!job->record.origin.empty()) continue;
                Placement placement = place(job->record, local, peers);
                if (placement.kind != Placement::Kind::forward) continue;
                moves.emplace_back(job, placement.peer);
                for (PeerView& peer : peers) {
                    if (peer.name == placement.peer) --peer.capacity, ++peer.load;
                }
                if (!has_capacity()) break;
            }
            if (!has_capacity()) break;
        }
        // The views were already charged while choosing; forward_to charges membership.
        for (auto& [job, name] : moves) {
            remove_from_queue(*job);
            forward_to(*job, name);
        }
    }
    // Jobs only another node may run: forwarded when one can, waiting (with the reason)
    // when none can.
    std::vector<Job*> candidates = elsewhere_;
    for (Job* job : candidates) {
        Placement placement = place(job->record, local, peers);
        if (placement.kind == Placement::Kind::forward) {
            remove_from_queue(*job);
            forward(*job, placement.peer);
        } else {
            wait_for_capacity(*job, placement.reason);
        }
    }
}

void Dispatcher::forward_to(Job& job, const std::string& peer) {
    if (job.record.state != JobState::queued) change_state(job, JobState::queued);
    job.owner = peer;
    job.taken = false;
    job.wait_reason.clear();
    job.forwarded_ms = steady_ms();
    untaken_.insert(job.record.id);
    peers_.take_capacity(peer);
    spdlog::debug("job {} ({} on queue {}) forwarded to node {}", job.record.id, job.record.task, job.record.queue,
                  peer);
    to_peer(peer, Command::forward, forward_body(job.record));
}

void Dispatcher::wait_for_capacity(Job& job, const std::string& reason) {
    if (job.record.state != JobState::waiting) change_state(job, JobState::waiting);
    if (job.wait_reason != reason) {
        spdlog::info("job {} ({}) waiting: {}", job.record.id, job.record.task, reason);
        job.wait_reason = reason;
    }
}

std::string Dispatcher::forward_body(const JobRecord& job) const {
    BodyWriter body;
    write_envelope(body, job);
    return std::string(body.finish());
}

void Dispatcher::write_envelope(BodyWriter& body, const JobRecord& job) const {
    body.add(f::id, job.id).add(f::task, job.task).add_packed(f::args, job.args);
    if (!job.kwargs.empty()) body.add_packed(f::kwargs, job.kwargs);
    body.add(f::queue, job.queue);
    if (!job.target.empty()) body.add(f::target, job.target);
    if (job.priority != 0) body.add(f::priority, job.priority);
    if (job.max_retries != 0) body.add(f::max_retries, static_cast<std::uint64_t>(job.max_retries));
    if (job.retry_delay > 0) body.add(f::retry_delay, job.retry_delay);
    if (job.soft_time_limit > 0) body.add(f::soft_time_limit, job.soft_time_limit);
    if (job.hard_time_limit > 0) body.add(f::hard_time_limit, job.hard_time_limit);
    if (!job.headers.empty()) body.add_packed(f::headers, job.headers);
    body.add(f::node, config_.name);
}

void Dispatcher::to_peer(const std::string& node, Command command, std::string body) {
    turn_.to_peers.push_back({node, command, std::move(body)});
}

void Dispatcher::acknowledge(const std::string& owner, std::string_view id) {
    BodyWriter body;
    body.add(f::id, id).add(f::node, config_.name);
    to_peer(owner, Command::state_ack, std::string(body.finish()));
}

void Dispatcher::on_forward(const Message& message) {
    std::string origin(message.string(f::node).value_or(""));
    auto task = read_task(message, config_.limits);
    if (origin.empty() || !task) {
        spdlog::warn("FORWARD of job {} from node '{}' refused: {}", message.string(f::id).value_or(""), origin,
                     origin.empty() ? "no origin node" : task.error());
        return;
    }
    run_for_origin(origin, std::move(*task));
}

void Dispatcher::run_for_origin(const std::string& origin, Task&& task) {
    std::string id = task.id;
    auto taken = [&] {
        BodyWriter body;
        body.add(f::id, id).add(f::node, config_.name);
        to_peer(origin, Command::taken, std::string(body.finish()));
    };
    // Idempotent: a FORWARD sent again (TAKEN lost, origin restarted) runs nothing twice.
    if (active(id)) {
        taken();
        return;
    }
    auto stored = journal_.find(id);
    if (stored && *stored) {
        taken();
        if (auto report = unacknowledged_.find(id); report != unacknowledged_.end()) {
            to_peer(report->second.origin, Command::state, report->second.body);
        }
        return;
    }
    if (active_.size() >= config_.max_pending) {
        spdlog::warn("job {} from node {} not taken: {} jobs pending (max_pending {})", id, origin, active_.size(),
                     config_.max_pending);
        return;
    }
    auto job = std::make_unique<Job>();
    job->record = record_from(std::move(task), wall_ms(), config_.name);
    job->record.origin = origin;
    // A broadcast's run at its own origin reports in memory, not over a peer link.
    job->record.report_pending = origin != config_.name;
    auto inserted = journal_.insert_job(job->record);
    if (!inserted || !*inserted) {
        if (!inserted) journal_write(Status(Error{inserted.error()}));
        spdlog::warn("job {} from node {} not taken: {}", id, origin,
                     inserted ? "the id is in the journal but cannot be read" : inserted.error());
        return;
    }
    Job& ref = *job;
    active_.emplace(ref.record.id, std::move(job));
    ++counts_[index_of(JobState::queued)];
    note_event(ref.record);
    enqueue(ref);
    // Accepted with no client: a failed commit drops it, and the origin sends it again.
    turn_.accepted.push_back(&ref);
    turn_.accepted_by.emplace_back();
    if (origin != config_.name) taken();
}

void Dispatcher::on_taken(const Message& message) {
    std::string id(*message.string(f::id));
    std::string owner(*message.string(f::node));
    std::string target;
    if (BroadcastRun* run = broadcast_run_of(id, &target)) {
        if (target == owner) run->untaken.erase(owner);
        return;
    }
    Job* job = active(id);
    if (!job || job->owner != owner || job->taken) return;
    job->taken = true;
    untaken_.erase(id);
    job->record.node = owner;
    job->record.updated_ms = wall_ms();
    journal_write(journal_.update_state(id, job->record.state, job->record.result, job->record.error, owner,
                                        job->record.updated_ms));
}

void Dispatcher::on_peer_state(const Message& message) {
    std::string id(*message.string(f::id));
    std::string owner(message.string(f::node).value_or(""));
    auto state = job_state_from_string(*message.string(f::state));
    if (!state || owner.empty()) {
        spdlog::warn("STATE for job {} without a known state or node; ignored", id);
        return;
    }
    std::string target;
    if (BroadcastRun* run = broadcast_run_of(id, &target); run && target == owner) {
        run->untaken.erase(owner);
        if (is_terminal(*state)) {
            record_outcome(std::string(broadcast_of_run(id)), owner, *state,
                           message.packed(f::result).value_or(""), message.string(f::error).value_or(""));
            acknowledge(owner, id);
        }
        return;
    }
    Job* job = active(id);
    if (!job || job->owner != owner || is_terminal(job->record.state)) {
        // A terminal state is final: a report after the job was reaped (or from a node that
        // no longer owns it) is history, not news. Acknowledged so that the owner forgets it.
        spdlog::info("late STATE {} for job {} from node {} ignored: the job is {} here", to_string(*state), id, owner,
                     job ? to_string(job->record.state) : "finished or unknown");
        if (is_terminal(*state)) acknowledge(owner, id);
        return;
    }
    if (!job->taken) {
        job->taken = true;
        untaken_.erase(id);
        job->record.node = owner;
    }
    if (is_terminal(*state)) {
        std::string result = message.packed(f::result).value_or("");
        std::string error(message.string(f::error).value_or(""));
        finish(*job, *state, result, error);
        acknowledge(owner, id);
    } else if (*state != job->record.state && *state != JobState::waiting) {
        change_state(*job, *state);
    }
}

void Dispatcher::on_state_ack(const Message& message) {
    std::string id(*message.string(f::id));
    if (unacknowledged_.erase(id) == 0) return;
    Status written = journal_.acknowledge_report(id);
    // Purged meanwhile: nothing left to forget.
    if (!written && written.error_code() != ErrorCode::not_found) journal_write(written);
}

void Dispatcher::reap_node(const std::string& node, const std::string& explanation, bool running_only) {
    // Jobs run here have no owner (""): no peer's departure may reap them.
    if (node.empty() || node == config_.name) {
        spdlog::error("asked to reap jobs of node '{}', which is not a peer; ignored", node);
        return;
    }
    std::vector<Job*> placed;
    for (auto& [id, job] : active_) {
        if (job->owner != node || is_broadcast(job->record) || is_terminal(job->record.state)) continue;
        if (running_only && job->record.state != JobState::running) continue;
        placed.push_back(job.get());
    }
    for (Job* job : placed) {
        spdlog::warn("job {} failed: {}", job->record.id, explanation);
        finish(*job, JobState::failed, {}, explanation);
    }
    // A node that restarted reports its broadcast runs itself (a run it was running fails
    // as "node restarted"); one that is lost or left never will.
    if (!running_only) {
        std::vector<std::string> waiting_for_node;
        for (const auto& [id, run] : broadcasts_) {
            auto outcome = run.outcomes.find(node);
            if (outcome != run.outcomes.end() && !is_terminal(outcome->second.state)) waiting_for_node.push_back(id);
        }
        for (const auto& id : waiting_for_node) record_outcome(id, node, JobState::failed, {}, explanation);
    }
    placement_dirty_ = true;
}

void Dispatcher::reap_silent_owners() {
    std::set<std::string> silent;
    for (auto& [id, job] : active_) {
        if (!job->owner.empty() && !is_broadcast(job->record) && !is_terminal(job->record.state) &&
            !peers_.alive(job->owner)) {
            silent.insert(job->owner);
        }
    }
    for (const auto& [id, run] : broadcasts_) {
        for (const auto& [node, outcome] : run.outcomes) {
            if (node != config_.name && !is_terminal(outcome.state) && !peers_.alive(node)) silent.insert(node);
        }
    }
    char seconds[32];
    std::snprintf(seconds, sizeof seconds, "%.1fs", config_.heartbeat_interval * (config_.heartbeat_liveness + 1));
    for (const auto& node : silent) {
        reap_node(node, "node " + node + " lost: not heard from within " + seconds + " of this node's restart");
    }
}

std::vector<std::pair<std::string, std::string>> Dispatcher::waiting_jobs() const {
    std::vector<std::pair<std::string, std::string>> waiting;
    for (const Job* job : elsewhere_) {
        if (job->record.state == JobState::waiting) waiting.emplace_back(job->record.id, job->wait_reason);
    }
    return waiting;
}

void Dispatcher::resend_to_peers() {
    if (!peers_.alive) return;
    std::int64_t due = steady_ms() - static_cast<std::int64_t>(config_.heartbeat_interval * 1000 * kForwardResendIntervals);
    for (const auto& id : untaken_) {
        Job* job = active(id);
        if (!job || job->forwarded_ms > due || !peers_.alive(job->owner)) continue;
        job->forwarded_ms = steady_ms();
        to_peer(job->owner, Command::forward, forward_body(job->record));
    }
    for (const auto& id : cancels_sent_) {
        Job* job = active(id);
        if (!job || !peers_.alive(job->owner)) continue;
        BodyWriter body;
        body.add(f::id, id).add(f::node, config_.name);
        to_peer(job->owner, Command::cancel, std::string(body.finish()));
    }
    for (const auto& [id, report] : unacknowledged_) {
        if (peers_.alive(report.origin)) to_peer(report.origin, Command::state, report.body);
    }
    resend_broadcasts();
}

}  // namespace zq::node
