// The dispatcher across nodes: as origin it places jobs on peers (FORWARD), waits for TAKEN,
// journals the states owners report and reaps the jobs of peers that are lost, left or
// restarted; as owner it journals what an origin forwards and reports back until the origin
// acknowledges. What must arrive is kept in the peer outbox (peer_outbox.hpp); messages to
// peers go out with the turn, after the commit (dispatcher.hpp).
#include "dispatcher.hpp"

#include "clock.hpp"
#include "membership.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <set>

namespace zq::node {
namespace {

namespace f = protocol::field;
using protocol::Command;

// A FORWARD not answered by TAKEN within this many heartbeat intervals is sent again.
constexpr double kForwardResendIntervals = 1.0;

}  // namespace

Status Dispatcher::load_unacknowledged_reports() {
    auto reports = journal_.unacknowledged_reports();
    if (!reports) return Error{reports.error()};
    for (const JobRecord& job : *reports) outbox_.reported(job.id, {job.origin, Command::state, job_body(job)});
    if (!reports->empty()) {
        spdlog::info("journal: {} outcomes of forwarded jobs not yet acknowledged by their origin; resending",
                     reports->size());
    }
    return success();
}

void Dispatcher::place_elsewhere() {
    placement_dirty_ = false;
    std::vector<PeerView> peers = peers_.views();
    auto has_capacity = [&peers] {
        return std::any_of(peers.begin(), peers.end(),
                           [](const PeerView& peer) { return peer.alive && peer.capacity > 0; });
    };
    // The views are charged while choosing, so that free units are taken once.
    auto charge = [&peers](const std::string& name, const JobRecord& job) {
        for (PeerView& peer : peers) {
            if (peer.name != name || peer.capacity == 0) continue;
            std::uint64_t units = job.exclusive ? peer.capacity : std::max<std::uint64_t>(job.weight, 1);
            peer.capacity -= std::min(units, peer.capacity);
            ++peer.load;
        }
    };
    // Queued jobs this node could run, but no local worker is free (start_ready_jobs took
    // them all): a peer with a free worker serving the queue takes them.
    if (!ready_.empty() && has_capacity()) {
        std::vector<std::pair<Job*, std::string>> moves;
        ready_.visit([&](Job& job) {
            if (!job.record.origin.empty()) return true;  // forwarded here: it runs here
            Placement placement = place(job.record, local_, peers);
            if (placement.kind != Placement::Kind::forward) return true;
            moves.emplace_back(&job, placement.peer);
            charge(placement.peer, job.record);
            return has_capacity();
        });
        for (auto& [job, name] : moves) {
            ready_.remove(*job);
            forward_to(*job, name);
        }
    }
    // Jobs only another node may run: forwarded when one can, waiting (with the reason)
    // when none can.
    for (Job* job : elsewhere_.jobs()) {
        Placement placement = place(job->record, local_, peers);
        if (placement.kind == Placement::Kind::forward) {
            elsewhere_.remove(*job);
            charge(placement.peer, job->record);
            forward_to(*job, placement.peer);
        } else {
            wait_for_capacity(*job, placement.reason);
        }
    }
}

void Dispatcher::forward_to(Job& job, const std::string& peer) {
    // Never forwarded late; once forwarded, the owner keeps the expiry (it travels along).
    if (expire_if_due(job, wall_ms())) return;
    expiries_.remove(job);
    job.owner = peer;
    // The row names the owner before the FORWARD goes out (it goes after this turn's commit):
    // an origin that stops before TAKEN then asks that node after its restart, and never
    // places the job a second time (recover()).
    job.record.node = peer;
    if (job.record.state != JobState::queued) {
        change_state(job, JobState::queued);
    } else {
        journal_write(journal_.update_state(job.record));
    }
    turn_.place(job);
    // An exclusive job leaves the peer nothing until it says otherwise.
    peers_.take_capacity(peer, job.record.exclusive ? UINT64_MAX : std::max<std::uint64_t>(job.record.weight, 1));
    spdlog::debug("job {} ({} on queue {}) forwarded to node {}", job.record.id, job.record.task, job.record.queue,
                  peer);
    PeerMessage forward{peer, Command::forward, forward_body(job.record, config_.name)};
    to_peer(forward.node, forward.command, forward.body);
    outbox_.forwarded(job.record.id, std::move(forward), steady_ms());
}

void Dispatcher::wait_for_capacity(Job& job, const std::string& reason) {
    if (job.record.state != JobState::waiting) change_state(job, JobState::waiting);
    if (!elsewhere_.set_reason(job, reason)) return;
    if (auto line = waiting_log_.note(job.record.id, job.record.task, reason, steady_ms())) spdlog::info("{}", *line);
}

void Dispatcher::to_peer(const std::string& node, Command command, std::string body) {
    turn_.to_peer(node, command, std::move(body));
}

void Dispatcher::acknowledge(const std::string& owner, std::string_view id) {
    to_peer(owner, Command::state_ack, job_notice(id, config_.name));
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
    auto taken = [&] { to_peer(origin, Command::taken, job_notice(id, config_.name)); };
    if (Job* held = jobs_.find(id)) {
        // This node's own copy of the id, still waiting for its claim's answer, while the node
        // that holds the id forwards the job here (every node submits a schedule's tick, and
        // the one whose claim won may place it here). That answer can only be "the origin
        // holds it": the copy goes, as it would then, and the forwarded job runs. Answered
        // TAKEN with nothing run, the job would run nowhere once the copy lost its claim.
        bool own_copy_awaiting = held->record.state == JobState::accepted && held->record.origin.empty() &&
                                 awaiting_claims_.holds(id);
        if (!own_copy_awaiting) {
            // Idempotent: a FORWARD sent again (TAKEN lost, origin restarted) runs nothing twice.
            // The origin may have restarted before it heard how far the job got: it hears now.
            taken();
            if (held->record.origin == origin &&
                (held->record.state == JobState::running || held->record.state == JobState::retrying)) {
                to_peer(origin, Command::state, job_body(held->record));
            }
            return;
        }
        claim_decided(id, ClaimDecision{origin, std::nullopt});
        // A copy accepted in this very turn stays until its commit: no TAKEN now, and the
        // origin sends the FORWARD again.
        if (jobs_.find(id)) return;
    }
    auto stored = journal_.find(id);
    if (stored && *stored) {
        taken();
        answer_again(origin, **stored);
        return;
    }
    if (jobs_.size() >= config_.max_pending) {
        spdlog::warn("job {} from node {} not taken: {} jobs pending (max_pending {})", id, origin, jobs_.size(),
                     config_.max_pending);
        return;
    }
    JobRecord record = record_from(std::move(task), wall_ms(), config_.name);
    record.origin = origin;
    // A broadcast's run at its own origin reports in memory, not over a peer link.
    record.report_pending = origin != config_.name;
    auto inserted = journal_.insert_job(record);
    if (!inserted || !*inserted) {
        if (!inserted) journal_write(Status(Error{inserted.error()}));
        spdlog::warn("job {} from node {} not taken: {}", id, origin,
                     inserted ? "the id is in the journal but cannot be read" : inserted.error());
        return;
    }
    // Accepted with no client: a failed commit drops it, and the origin sends it again.
    Job& job = hold_accepted(std::move(record), {});
    enqueue(job);
    if (origin != config_.name) taken();
}

void Dispatcher::answer_again(const std::string& origin, const JobRecord& stored) {
    if (const PeerMessage* report = outbox_.report(stored.id)) {
        to_peer(report->node, report->command, report->body);
        return;
    }
    // The outcome was acknowledged, yet the origin asks: its journal does not have it (a
    // power loss with journal_sync "normal", or an older zq that dropped the report). It is
    // reported again, and kept until acknowledged, across restarts too.
    if (stored.origin != origin || origin == config_.name || !is_terminal(stored.state)) return;
    spdlog::info("job {} forwarded again by node {}, which has not recorded its outcome: reported again", stored.id,
                 origin);
    journal_write(journal_.reopen_report(stored.id));
    PeerMessage report{origin, Command::state, job_body(stored)};
    to_peer(report.node, report.command, report.body);
    outbox_.reported(stored.id, std::move(report));
}

void Dispatcher::on_taken(const Message& message) {
    std::string id(*message.string(f::id));
    std::string owner(*message.string(f::node));
    if (auto run = broadcasts_.run_of(id)) {
        if (run->node == owner) broadcasts_.taken(*run);
        return;
    }
    Job* job = jobs_.find(id);
    if (job && config_.test_hold_after_forward && job->owner == owner) return;  // test hook (config.hpp)
    if (!job || job->owner != owner || !outbox_.taken(id)) return;
    // The FORWARD's turn journaled the owner already; a job placed before that was kept
    // (an older journal) is written here.
    if (job->record.node == owner) return;
    job->record.node = owner;
    job->record.updated_ms = wall_ms();
    journal_write(journal_.update_state(job->record));
}

void Dispatcher::on_peer_state(const Message& message) {
    std::string id(*message.string(f::id));
    std::string owner(message.string(f::node).value_or(""));
    auto state = job_state_from_string(*message.string(f::state));
    if (!state || owner.empty()) {
        spdlog::warn("STATE for job {} without a known state or node; ignored", id);
        return;
    }
    if (auto run = broadcasts_.run_of(id); run && run->node == owner) {
        broadcasts_.taken(*run);
        if (is_terminal(*state)) {
            record_outcome(run->broadcast, owner, *state, message.packed(f::result).value_or(""),
                           message.string(f::error).value_or(""));
            acknowledge(owner, id);
        }
        return;
    }
    Job* job = jobs_.find(id);
    if (job && config_.test_hold_after_forward && job->owner == owner) return;  // test hook (config.hpp)
    // A job this node holds as its own, not started here, that a peer runs: it was placed
    // there before a stop whose journal kept no owner (an older zq). The peer's run is the
    // one: the job leaves the queues here and follows the report.
    if (job && job->owner.empty() && job->record.origin.empty() && !is_terminal(job->record.state) &&
        job->record.state != JobState::running && job->record.state != JobState::accepted &&
        !is_broadcast(job->record) && !is_workflow(job->record)) {
        adopt_peer_run(*job, owner);
    }
    if (!job || job->owner != owner || is_terminal(job->record.state)) {
        // A terminal state is final: a report after the job was reaped (or from a node that
        // no longer owns it) is history, not news. Acknowledged so that the owner forgets it.
        if (job && !is_terminal(job->record.state)) {
            // Two nodes hold a run of one job: only a journal that lost its owner could do that.
            spdlog::error("STATE {} for job {} from node {} ignored: the job is {} here, {}", to_string(*state), id,
                          owner, to_string(job->record.state),
                          job->owner.empty() ? "on this node" : "placed on node " + job->owner);
        } else {
            spdlog::info("late STATE {} for job {} from node {} ignored: the job is {} here", to_string(*state), id,
                         owner, job ? to_string(job->record.state) : "finished or unknown");
        }
        if (is_terminal(*state)) acknowledge(owner, id);
        return;
    }
    // A report is as good as TAKEN (which may have been lost).
    if (outbox_.taken(id)) job->record.node = owner;
    if (is_terminal(*state)) {
        std::string result = message.packed(f::result).value_or("");
        std::string error(message.string(f::error).value_or(""));
        finish(*job, *state, result, error);
        acknowledge(owner, id);
    } else if (*state != job->record.state && *state != JobState::waiting) {
        change_state(*job, *state);
    }
}

void Dispatcher::adopt_peer_run(Job& job, const std::string& owner) {
    spdlog::warn("job {} ({}) is run by node {}, not here: it follows that run", job.record.id, job.record.task, owner);
    unqueue(job);
    outbox_.forget(job.record.id);
    job.owner = owner;
    job.record.node = owner;
    job.record.updated_ms = wall_ms();
    journal_write(journal_.update_state(job.record));
    placement_dirty_ = true;
}

void Dispatcher::on_state_ack(const Message& message) {
    std::string id(*message.string(f::id));
    if (!outbox_.acknowledged(id)) return;
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
    jobs_.for_each([&](Job& job) {
        if (job.owner != node || is_broadcast(job.record) || is_terminal(job.record.state)) return;
        if (running_only && job.record.state != JobState::running) return;
        placed.push_back(&job);
    });
    for (Job* job : placed) {
        spdlog::warn("job {} ended in error: {}", job->record.id, explanation);
        // Whatever queue or book still holds it lets go before the job is freed (settle()
        // checks it): a placed job is in none normally, but a reap may come at any point.
        unqueue(*job);
        outbox_.forget(job->record.id);
        awaiting_claims_.forget(job->record.id);
        finish(*job, JobState::error, {}, explanation);
    }
    // A node that restarted reports its broadcast runs itself (a run it was running fails
    // as "node restarted"); one that is lost or left never will.
    if (!running_only) {
        for (const auto& id : broadcasts_.waiting_for(node))
            record_outcome(id, node, JobState::error, {}, explanation);
    }
    // As a key's home: the slots the node held, and its place in the queues, are freed.
    forget_key_origin(node);
    placement_dirty_ = true;
    // Claims out to that node go to the ids' new homes (dispatcher_claims.cpp).
    members_dirty_ = true;
}

double Dispatcher::owner_grace_seconds() const {
    // A peer hears this node's HELLO at once if the node links to it (`peers`), and opens its
    // own link back without waiting (membership.cpp). One that this node does not know how
    // to reach speaks first only when its link back, backing off since the node went away,
    // tries again: at most kReconnectMaxMs (and a jitter) later. liveness × interval, plus one,
    // counts from then.
    const double backoff = (kReconnectMaxMs + kReconnectMinMs) / 1000.0;
    return backoff + config_.heartbeat_interval * (config_.heartbeat_liveness + 1);
}

void Dispatcher::reap_silent_owners() {
    std::set<std::string> silent;
    jobs_.for_each([&](const Job& job) {
        if (!job.owner.empty() && !is_broadcast(job.record) && !is_terminal(job.record.state) &&
            !peers_.alive(job.owner)) {
            silent.insert(job.owner);
        }
    });
    for (const auto& node : broadcasts_.pending_nodes()) {
        if (!peers_.alive(node)) silent.insert(node);
    }
    char seconds[32];
    std::snprintf(seconds, sizeof seconds, "%.1fs", owner_grace_seconds());
    for (const auto& node : silent) {
        reap_node(node, "node " + node + " lost: not heard from within " + seconds + " of this node's restart");
    }
}

void Dispatcher::resend_to_peers() {
    for (const std::string& line : waiting_log_.due(steady_ms())) spdlog::info("{}", line);
    if (!peers_.alive) return;
    auto interval = static_cast<std::int64_t>(config_.heartbeat_interval * 1000 * kForwardResendIntervals);
    for (PeerMessage& message : outbox_.due(steady_ms(), interval, peers_.alive)) {
        to_peer(message.node, message.command, std::move(message.body));
    }
    resend_broadcasts();
    resend_claims();
    refresh_key_hold();
    sync_key_homes(false);
}

}  // namespace zq::node
