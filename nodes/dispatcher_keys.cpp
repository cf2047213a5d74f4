// Keys: uniqueness (on_duplicate) and cluster-wide limits per key and per queue
// (docs/architecture.md, "Keys: uniqueness and throttles").
//
// A job that needs slots (key_policy.hpp) does not enter the queues until it holds them: the
// gate in enqueue() puts it in the key outbox, `waiting`, and asks the home of its first lock
// (claim_home.hpp: rendezvous over the live nodes, as for ids). The home's key ledger grants
// it, queues it, or drops it as a duplicate; a granted job asks for its next lock, and once it
// holds all it is queued and placed as usual. It keeps its slots until it ends at its origin
// (finish()), which releases them, and the home grants the next waiters. On one node the home
// is the node itself: the ledger answers in the same turn, without a message.
#include "dispatcher.hpp"

#include "claim_home.hpp"
#include "clock.hpp"
#include "key_messages.hpp"
#include "key_policy.hpp"

#include <spdlog/spdlog.h>

#include <map>
#include <optional>

namespace zq::node {
namespace {

using protocol::Command;

// A sync list longer than this many jobs goes in several KEY-ACQUIREs (the first with `all`).
constexpr std::size_t kMaxSyncItems = 2000;

}  // namespace

std::vector<std::pair<std::string, std::string>> Dispatcher::waiting_jobs() const {
    auto waiting = elsewhere_.waiting();
    if (!key_outbox_.empty()) {
        auto keyed = key_outbox_.waiting();
        waiting.insert(waiting.end(), keyed.begin(), keyed.end());
    }
    return waiting;
}

bool Dispatcher::key_gate_open(Job& job) {
    const JobRecord& record = job.record;
    // The origin admits a job; its owner and the nodes running a broadcast do not ask again.
    if (!record.origin.empty() || is_broadcast(record)) return true;
    if (key_outbox_.holds(record.id)) return key_outbox_.admitted(record.id);
    // Most jobs: no key, and no task or queue settings that could give them one.
    if (record.unique_key.empty() && record.key_concurrency == 0 && config_.tasks.empty() &&
        config_.queue_settings.empty()) {
        return true;
    }
    std::vector<KeyLock> locks = locks_for(record, config_);
    if (locks.empty()) return true;
    key_outbox_.add(record.id, std::move(locks));
    ask_for_slot(job);
    if (key_outbox_.admitted(record.id)) return true;
    if (!is_terminal(record.state) && record.state != JobState::waiting) change_state(job, JobState::waiting);
    return false;
}

void Dispatcher::ask_for_slot(Job& job) {
    const std::string& id = job.record.id;
    while (auto request = key_outbox_.asking(id)) {
        std::string home = home_of(request->lock);
        key_outbox_.asked(id, home);
        // While the node learns its cluster no home is known: the sync after it asks.
        if (home.empty()) return;
        if (home != config_.name) {
            to_peer(home, Command::key_acquire, key_acquire_body(config_.name, {*request}, false));
            return;
        }
        refresh_key_hold();
        auto answers = key_ledger_.acquire(*request);
        if (answers.empty()) {
            key_outbox_.set_reason(id, "waiting: the home of " + lock_label(request->lock) + " is taking over");
            return;
        }
        const KeyAnswer& answer = answers.front();
        if (answer.verdict == KeyVerdict::granted) {
            key_outbox_.granted(id, answer.lock);
            continue;
        }
        if (answer.verdict == KeyVerdict::waiting) {
            key_outbox_.set_reason(id, answer.why);
        } else {
            drop_duplicate(job, answer);
        }
        return;
    }
}

void Dispatcher::deliver_key_answers(const std::vector<KeyAnswer>& answers) {
    std::map<std::string, std::vector<KeyAnswer>> to_peers;
    for (const KeyAnswer& answer : answers) {
        if (answer.origin == config_.name) {
            on_key_verdict(answer);
        } else {
            to_peers[answer.origin].push_back(answer);
        }
    }
    for (const auto& [origin, batch] : to_peers) to_peer(origin, Command::key_answer, key_answer_body(config_.name, batch));
}

void Dispatcher::on_key_verdict(const KeyAnswer& answer) {
    Job* job = jobs_.find(answer.id);
    if (!job || !key_outbox_.holds(answer.id)) {
        // A slot granted to a job that ended meanwhile (its release crossed the grant): it
        // goes back at once, or the key would stay taken.
        if (answer.verdict == KeyVerdict::granted) {
            std::string home = home_of(answer.lock);
            if (home == config_.name) {
                deliver_key_answers(key_ledger_.release(answer.lock, answer.id));
            } else if (!home.empty()) {
                to_peer(home, Command::key_release,
                        key_release_body(config_.name, {KeyRequest{answer.id, answer.lock, config_.name}}));
            }
        }
        return;
    }
    // An answer about a slot the job holds already (a sync's echo) changes nothing.
    if (!key_outbox_.asks_for(answer.id, answer.lock)) return;
    switch (answer.verdict) {
        case KeyVerdict::waiting: {
            key_outbox_.set_reason(answer.id, answer.why);
            for (const auto& client : key_outbox_.take_answer_clients(answer.id)) {
                reply(client, Command::accepted, accepted_body(answer.id, JobState::waiting, config_.name, false));
            }
            return;
        }
        case KeyVerdict::dropped: drop_duplicate(*job, answer); return;
        case KeyVerdict::granted: break;
    }
    key_outbox_.granted(answer.id, answer.lock);
    ask_for_slot(*job);
    if (!key_outbox_.admitted(answer.id)) return;
    for (const auto& client : key_outbox_.take_answer_clients(answer.id)) {
        reply(client, Command::accepted, accepted_body(answer.id, JobState::queued, config_.name, false));
    }
    if (job->record.state == JobState::waiting) change_state(*job, JobState::queued);
    enqueue(*job);
}

void Dispatcher::drop_duplicate(Job& job, const KeyAnswer& answer) {
    spdlog::info("job {} ({}) dropped: {}", job.record.id, job.record.task, answer.why);
    job.dedup = answer.dedup;
    const std::string body = dropped_accepted_body(job.record.id, config_.name, answer.dedup);
    for (const auto& client : key_outbox_.take_answer_clients(job.record.id)) reply(client, Command::accepted, body);
    finish(job, JobState::canceled, {}, answer.why);
}

void Dispatcher::release_key_slots(const std::string& id) {
    auto slots = key_outbox_.remove(id, [this](std::string_view lock) { return home_of(lock); });
    for (const auto& slot : slots) {
        if (slot.home == config_.name) {
            deliver_key_answers(key_ledger_.release(slot.lock, id));
        } else {
            to_peer(slot.home, Command::key_release,
                    key_release_body(config_.name, {KeyRequest{id, slot.lock, config_.name}}));
        }
    }
}

void Dispatcher::restore_key_slots(Job& job) {
    const JobRecord& record = job.record;
    if (!record.origin.empty() || is_broadcast(record)) return;
    // Past the gate before the restart: queued, between attempts, or placed on a peer. (A job
    // running here is failed by the restart, which releases what this adds.)
    const bool admitted = record.state == JobState::queued || record.state == JobState::retrying ||
                          record.state == JobState::running;
    if (!admitted) return;
    std::vector<KeyLock> locks = locks_for(record, config_);
    if (!locks.empty()) key_outbox_.add_admitted(record.id, std::move(locks));
}

void Dispatcher::sync_key_homes(bool with_self) {
    if (key_outbox_.empty() && key_homes_synced_.empty()) return;
    auto home = [this](std::string_view lock) { return home_of(lock); };
    // Jobs whose home changed ask the new one: the sync below carries their request.
    for (const std::string& id : key_outbox_.rehome(home)) {
        if (auto request = key_outbox_.asking(id)) key_outbox_.asked(id, home_of(request->lock));
    }
    auto by_home = key_outbox_.requests_by_home(home);
    std::set<std::string> synced;
    for (auto& [node, requests] : by_home) {
        if (node == config_.name) {
            if (with_self) deliver_key_answers(key_ledger_.sync(config_.name, requests));
            continue;
        }
        synced.insert(node);
        for (std::size_t from = 0; from < requests.size(); from += kMaxSyncItems) {
            std::vector<KeyRequest> part(requests.begin() + static_cast<std::ptrdiff_t>(from),
                                         requests.begin() + static_cast<std::ptrdiff_t>(
                                                                std::min(requests.size(), from + kMaxSyncItems)));
            to_peer(node, Command::key_acquire, key_acquire_body(config_.name, part, from == 0));
        }
    }
    // A home that is no longer one for anything of this node's forgets what it had of it.
    for (const std::string& node : key_homes_synced_) {
        if (!synced.contains(node) && peers_.alive && peers_.alive(node)) {
            to_peer(node, Command::key_acquire, key_acquire_body(config_.name, {}, true));
        }
    }
    key_homes_synced_ = std::move(synced);
}

void Dispatcher::refresh_key_hold() {
    const bool hold = settling_ || steady_ms() < keys_paused_until_ms_;
    if (hold == key_ledger_.holding()) return;
    if (hold) {
        key_ledger_.hold_grants();
        return;
    }
    deliver_key_answers(key_ledger_.release_hold());
}

void Dispatcher::forget_key_origin(const std::string& node) {
    if (key_ledger_.empty()) return;
    deliver_key_answers(key_ledger_.forget_origin(node));
}

std::optional<std::string> Dispatcher::keyed_answer(const std::string& client, Job& job) {
    const JobRecord& record = job.record;
    if (!job.dedup.empty()) return dropped_accepted_body(record.id, config_.name, job.dedup);
    if (!key_outbox_.holds(record.id) || key_outbox_.admitted(record.id)) return std::nullopt;
    auto request = key_outbox_.asking(record.id);
    // A policy that may drop the job: the client hears the home's verdict, not a guess.
    const bool may_drop = request && (request->policy == KeyPolicy::discard || request->policy == KeyPolicy::queue_one);
    if (may_drop && (home_of(request->lock) != config_.name || key_ledger_.holding())) {
        key_outbox_.hold_answer(record.id, client);
        return std::string();
    }
    return accepted_body(record.id, JobState::waiting, config_.name, false);
}

void Dispatcher::on_key_acquire(const Message& message) {
    std::string origin(*message.string(protocol::field::node));
    std::vector<KeyRequest> requests = read_key_requests(message);
    // A home that just started, or took over, does not know yet what every origin holds: it
    // takes the announcements of held slots and queues the requests, but grants nothing
    // until the origins' lists are in (refresh_key_hold).
    refresh_key_hold();
    if (message.boolean(protocol::field::all).value_or(false)) {
        deliver_key_answers(key_ledger_.sync(origin, requests));
        return;
    }
    for (const KeyRequest& request : requests) deliver_key_answers(key_ledger_.acquire(request));
}

void Dispatcher::on_key_answer(const Message& message) {
    for (const KeyAnswer& answer : read_key_answers(message)) on_key_verdict(answer);
}

void Dispatcher::on_key_release(const Message& message) {
    for (const KeyRequest& released : read_key_requests(message)) {
        deliver_key_answers(key_ledger_.release(released.lock, released.id));
    }
}

}  // namespace zq::node
