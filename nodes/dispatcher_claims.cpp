// Cluster-wide ids: an id submitted to several nodes of the cluster runs on one of them
// (docs/architecture.md, "Cluster-wide ids").
//
// Each id has a home (claim_home.hpp), chosen alike by every node that sees the same live
// members. At the home, the claim ledger (claim_ledger.hpp) says which node holds the id: the
// first to claim it. A node that accepts a submission whose home is another node journals it
// `accepted`, holds it and its ACCEPTED, and claims the id (one CLAIM per home per turn, in
// the claim outbox). The answer, CLAIMED, either grants it (the job is queued and ACCEPTED
// goes out) or names the node that holds the id (the copy here is deleted unrun, and the
// submitter hears ACCEPTED {dup: true, node}). A node alone claims nothing: its submit path
// is the one it always had.
#include "dispatcher.hpp"

#include "claim_home.hpp"
#include "clock.hpp"
#include "invariant.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

namespace zq::node {
namespace {

namespace f = protocol::field;
using protocol::Command;

// An unanswered claim is sent again after this many heartbeat intervals.
constexpr double kClaimResendIntervals = 1.0;
// What one answer adds to a CLAIMED body besides its id and node name (keys, headers, state).
constexpr std::size_t kAnswerOverheadBytes = 32;
// A hand-back whose home's link was not up yet is tried again after this many heartbeat
// intervals: well within the half interval the returning home waits (Membership::settling).
constexpr double kHandBackRetryIntervals = 0.125;
// After membership changed, keys' homes grant nothing for this many heartbeat intervals, so
// that every origin's list of held slots reaches the new homes first (dispatcher_keys.cpp).
constexpr double kKeyTakeoverIntervals = 1.5;

}  // namespace

std::string Dispatcher::home_of(std::string_view id) const {
    if (settling_) return {};
    return claim_home(id, config_.name, live_peers_);
}

Dispatcher::ClaimStep Dispatcher::claim_on_submit(const std::string& client, JobRecord& record) {
    std::string home = home_of(record.id);
    if (home != config_.name) {
        // Another node decides, or none can yet (the node is settling).
        record.state = JobState::accepted;
        return ClaimStep::await;
    }
    auto decided = claims_.claim(record.id, config_.name, wall_ms());
    if (!decided) {
        reply_rejected(client, record.id, "journal unreadable: " + decided.error());
        return ClaimStep::answered;
    }
    if (decided->holder == config_.name) {
        owe_if_home_away(record.id, config_.name);
        return ClaimStep::run;
    }
    reply(client, Command::accepted, accepted_body(record.id, JobState::accepted, decided->holder, true));
    return ClaimStep::answered;
}

void Dispatcher::await_claim(Job& job, const std::string& client) {
    std::string home = home_of(job.record.id);
    // A claim homed here (a job recovered by a node alone) is decided by the next refresh.
    if (home == config_.name) decide_here_ = members_dirty_ = true;
    awaiting_claims_.add(job.record.id, std::move(home));
    if (!client.empty()) awaiting_claims_.add_waiter(job.record.id, {client, false});
}

void Dispatcher::await_claim_again(Job& job, const std::string& client) {
    if (!awaiting_claims_.holds(job.record.id)) {
        // Every `accepted` job awaits its claim; should one not, the submitter still hears.
        reply_accepted(client, job.record, true);
        return;
    }
    awaiting_claims_.add_waiter(job.record.id, {client, true});
    // Submitted twice within the turn that accepted it: a failed commit rejects both.
    if (turn_.accepts(job)) turn_.accept(job, client);
}

void Dispatcher::refresh_members() {
    members_dirty_ = false;
    bool settling = peers_.settling && peers_.settling();
    std::vector<PeerView> views = peers_.views ? peers_.views() : std::vector<PeerView>{};
    std::vector<std::string> live, known;
    for (const PeerView& peer : views) {
        known.push_back(peer.name);
        if (peer.alive) live.push_back(peer.name);
        // A home back alive hears what was decided in its place, once it knows this node's
        // name (a peer message from a node it does not know is refused).
        if (peer.alive && peer.introduced && claims_.owes(peer.name)) hand_back_due_.insert(peer.name);
    }
    std::sort(live.begin(), live.end());
    std::sort(known.begin(), known.end());
    bool changed = settling != settling_ || live != live_peers_;
    settling_ = settling;
    live_peers_ = std::move(live);
    known_peers_ = std::move(known);
    in_cluster_ = settling_ || !live_peers_.empty();
    // Keys move with the same homes (dispatcher_keys.cpp).
    if (changed) {
        if (!live_peers_.empty()) {
            keys_paused_until_ms_ =
                steady_ms() + static_cast<std::int64_t>(config_.heartbeat_interval * 1000 * kKeyTakeoverIntervals);
        }
        refresh_key_hold();
        sync_key_homes(true);
    }
    if (awaiting_claims_.empty() || (!changed && !decide_here_)) return;
    decide_here_ = false;
    // Claims out go to their homes as the cluster is now (a home lost, a node back); those
    // whose home is this node are decided here.
    for (const std::string& id : awaiting_claims_.rehome([this](std::string_view each) { return home_of(each); })) {
        Job* job = jobs_.find(id);
        // Not in the turn that accepted it: its journal row must be committed first, and its
        // submitter's answer is that turn's until then. A later turn decides it.
        if (job && turn_.accepts(*job)) {
            decide_here_ = members_dirty_ = true;
            continue;
        }
        auto decided = claims_.claim(id, config_.name, wall_ms());
        if (!decided) {
            spdlog::warn("claim of job {} not decided here now, tried again: {}", id, decided.error());
            decide_here_ = true;
            continue;
        }
        owe_if_home_away(id, decided->holder);
        claim_decided(id, *decided);
    }
}

void Dispatcher::claim_decided(const std::string& id, const ClaimDecision& decision) {
    Job* job = jobs_.find(id);
    if (!job || job->record.state != JobState::accepted || !awaiting_claims_.holds(id)) {
        // Not awaited: a decision handed back by a node that decided in this node's place
        // while it was away, or the second answer to a claim sent twice. Kept, so that this
        // node answers for the id as its home.
        journal_write(claims_.learn(id, decision.holder, wall_ms()));
        return;
    }
    // Accepted again in this very turn: its claim goes out after the commit, and is answered
    // again then.
    if (turn_.accepts(*job)) return;
    auto waiters = awaiting_claims_.resolve(id);
    if (!waiters) return;
    if (decision.holder == config_.name) {
        if (job->record.cancel_requested) {
            finish(*job, JobState::canceled, {}, "canceled before it ran");
        } else {
            // As a submission starts out here (scheduled for an ETA ahead), then enqueued as one.
            change_state(*job, job->record.eta_ms > wall_ms() ? JobState::scheduled : JobState::queued);
            enqueue(*job);
        }
        for (const auto& waiter : *waiters) {
            // A keyed job waits for its slot or was dropped: the submitter hears that.
            if (!waiter.duplicate && !waiter.client.empty()) {
                if (auto body = keyed_answer(waiter.client, *job)) {
                    if (!body->empty()) reply(waiter.client, Command::accepted, std::move(*body));
                    continue;
                }
            }
            reply_accepted(waiter.client, job->record, waiter.duplicate);
        }
        return;
    }
    // Another node holds the id: the copy here never ran and goes. The decision is kept here
    // too, so that this node can answer for the id should it become its home.
    spdlog::info("job {} ({}) not run here: node {} holds its id", id, job->record.task, decision.holder);
    // A row already gone (not_found) is what the delete wanted.
    if (Status deleted = journal_.delete_unclaimed_job(id); !deleted && deleted.error_code() != ErrorCode::not_found) {
        journal_write(deleted);
    }
    journal_write(claims_.learn(id, decision.holder, wall_ms()));
    std::string answer = accepted_body(id, decision.state.value_or(JobState::accepted), decision.holder, true);
    for (const auto& waiter : *waiters) reply(waiter.client, Command::accepted, answer);
    ZQ_ASSERT(!ready_.contains(*job) && !elsewhere_.contains(*job) && !wakeups_.contains(*job) &&
                  !expiries_.contains(*job),
              "a job awaiting its claim is in no queue or timetable");
    jobs_.drop(*job);
}

void Dispatcher::send_new_claims() {
    for (auto& batch : awaiting_claims_.take_unsent(steady_ms(), config_.limits.max_message_bytes / 2)) {
        to_peer(batch.home, Command::claim, claim_body(config_.name, batch.ids));
    }
}

void Dispatcher::resend_claims() {
    // The set of live peers may have changed without an event (the node stopped settling),
    // and hand-backs that could not be sent are due again.
    members_dirty_ = true;
    if (awaiting_claims_.empty()) return;
    auto interval = static_cast<std::int64_t>(config_.heartbeat_interval * 1000 * kClaimResendIntervals);
    for (auto& batch :
         awaiting_claims_.take_due(steady_ms(), interval, peers_.alive, config_.limits.max_message_bytes / 2)) {
        to_peer(batch.home, Command::claim, claim_body(config_.name, batch.ids));
    }
}

void Dispatcher::on_claim(const Message& message) {
    std::string claimant(*message.string(f::node));
    // Until it knows its cluster, a node that restarted may not have heard yet what was
    // decided in its place while it was away: the claimant asks again next interval.
    if (settling_) return;
    const msgpack::object& ids = *message.find(f::ids);
    const std::size_t max_bytes = config_.limits.max_message_bytes / 2;
    std::vector<ClaimAnswer> answers;
    std::size_t bytes = 0;
    for (std::uint32_t i = 0; i < ids.via.array.size; ++i) {
        const msgpack::object& item = ids.via.array.ptr[i];
        if (item.type != msgpack::type::STR || item.via.str.size == 0 ||
            item.via.str.size > config_.limits.max_name_bytes) {
            spdlog::warn("CLAIM from node {}: an id that is not a string of 1 to {} bytes; ignored", claimant,
                         config_.limits.max_name_bytes);
            continue;
        }
        std::string id(item.via.str.ptr, item.via.str.size);
        auto decided = claims_.claim(id, claimant, wall_ms());
        if (!decided) {
            // Nothing of this turn is sent if a write failed; the claimant asks again.
            journal_write(Status(Error{decided.error()}));
            spdlog::warn("CLAIM of job {} from node {} not answered: {}", id, claimant, decided.error());
            return;
        }
        owe_if_home_away(id, decided->holder);
        bytes += id.size() + decided->holder.size() + kAnswerOverheadBytes;
        answers.push_back({std::move(id), std::move(decided->holder), decided->state});
        if (bytes >= max_bytes) {
            to_peer(claimant, Command::claimed, claimed_body(config_.name, answers));
            answers.clear();
            bytes = 0;
        }
    }
    if (!answers.empty()) to_peer(claimant, Command::claimed, claimed_body(config_.name, answers));
}

void Dispatcher::on_claimed(const Message& message) {
    std::string home(*message.string(f::node));
    const msgpack::object& claims = *message.find(f::claims);
    for (std::uint32_t i = 0; i < claims.via.array.size; ++i) {
        const msgpack::object& item = claims.via.array.ptr[i];
        if (item.type != msgpack::type::MAP) continue;
        FieldReader answer(item);
        auto id = answer.string(f::id);
        auto holder = answer.string(f::node);
        if (!id || !holder || holder->empty()) {
            spdlog::warn("CLAIMED from node {}: an answer without id or node; ignored", home);
            continue;
        }
        ClaimDecision decision{std::string(*holder), std::nullopt};
        if (auto state = answer.string(f::state)) decision.state = job_state_from_string(*state);
        claim_decided(std::string(*id), decision);
    }
}

void Dispatcher::owe_if_home_away(const std::string& id, const std::string& holder) {
    if (known_peers_.size() == live_peers_.size()) return;  // nobody known is away
    const std::string home = claim_home(id, config_.name, known_peers_);
    if (home == config_.name || std::binary_search(live_peers_.begin(), live_peers_.end(), home)) return;
    journal_write(claims_.hand_back_later(id, holder, home, wall_ms()));
}

void Dispatcher::hand_back_claims() {
    const std::int64_t now = steady_ms();
    if (now < hand_back_after_ms_) return;
    std::set<std::string> homes = std::exchange(hand_back_due_, {});
    const std::size_t max_bytes = config_.limits.max_message_bytes / 2;
    for (const std::string& home : homes) {
        if (!claims_.owes(home) || !peers_.send) continue;
        auto owed = claims_.owed_to(home);
        if (!owed) {
            spdlog::warn("claims owed to node {} not handed back now, tried again: {}", home, owed.error());
            continue;
        }
        // Sent now, not with a turn: every decision listed is committed already (this runs
        // only when the turn has written nothing). A link not up yet fails the send: it is
        // tried again soon (the returning home waits for it, see Membership::settling), and
        // only a complete hand-back is forgotten.
        std::vector<ClaimAnswer> answers;
        std::size_t bytes = 0;
        bool sent = true;
        for (std::size_t i = 0; i < owed->size() && sent; ++i) {
            auto& [id, holder] = (*owed)[i];
            bytes += id.size() + holder.size() + kAnswerOverheadBytes;
            answers.push_back({std::move(id), std::move(holder), std::nullopt});
            if (bytes >= max_bytes || i + 1 == owed->size()) {
                sent = peers_.send(home, Command::claimed, claimed_body(config_.name, answers));
                answers.clear();
                bytes = 0;
            }
        }
        if (!sent) {
            hand_back_due_.insert(home);
            hand_back_after_ms_ =
                now + static_cast<std::int64_t>(config_.heartbeat_interval * 1000 * kHandBackRetryIntervals);
            continue;
        }
        spdlog::info("{} claims decided while node {} was away handed back to it", owed->size(), home);
        journal_write(claims_.handed_back(home));
    }
}

}  // namespace zq::node
