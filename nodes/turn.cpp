#include "turn.hpp"

#include "invariant.hpp"

#include <algorithm>

namespace zq::node {

void Turn::accept(Job& job, std::string client) { accepted_.push_back({&job, std::move(client)}); }

bool Turn::accepts(const Job& job) const {
    return std::any_of(accepted_.begin(), accepted_.end(), [&job](const Accepted& each) { return each.job == &job; });
}

void Turn::start(Job& job, WorkerId worker) { started_.push_back({&job, worker}); }

void Turn::finish(Job& job) {
    ZQ_ASSERT(std::find(finished_.begin(), finished_.end(), &job) == finished_.end(), "a job finishes once");
    finished_.push_back(&job);
}

void Turn::place(Job& job) {
    if (std::find(placed_.begin(), placed_.end(), &job) == placed_.end()) placed_.push_back(&job);
}

void Turn::publish(Job& broadcast) { broadcasts_.push_back(&broadcast); }

void Turn::reply(std::string client, protocol::Command command, std::string body) {
    replies_.push_back({std::move(client), command, std::move(body)});
}

void Turn::to_peer(std::string node, protocol::Command command, std::string body) {
    to_peers_.push_back({std::move(node), command, std::move(body)});
}

void Turn::event(JobEvent event) { events_.push_back(std::move(event)); }

void Turn::outcomes_written(std::string broadcast_id) { outcome_writes_.push_back(std::move(broadcast_id)); }

void Turn::journal_write(const Status& status) {
    wrote_ = true;
    if (!status && journal_error_.empty()) journal_error_ = status.error();
}

bool Turn::empty() const {
    return accepted_.empty() && started_.empty() && finished_.empty() && broadcasts_.empty() && replies_.empty() &&
           to_peers_.empty() && events_.empty() && !wrote_ && journal_error_.empty() && !has_rewrites();
}

Turn::Undo Turn::fail() {
    Undo undo;
    for (const Accepted& each : accepted_) {
        if (!each.client.empty()) undo.rejected.push_back(each);
        if (std::find(undo.dropped.begin(), undo.dropped.end(), each.job) == undo.dropped.end()) {
            undo.dropped.push_back(each.job);
        }
    }
    // A job accepted this turn is forgotten, whatever else the turn did with it.
    for (Job* job : undo.dropped) {
        std::erase_if(started_, [job](const Started& each) { return each.job == job; });
        std::erase(finished_, job);
        std::erase(placed_, job);
        std::erase(broadcasts_, job);
    }
    undo.put_back.assign(started_.rbegin(), started_.rend());
    undo.unwritten = std::move(finished_);
    undo.unwritten_outcomes = std::move(outcome_writes_);
    undo.unwritten_placements = std::move(placed_);
    ZQ_ASSERT(broadcasts_.empty(), "a broadcast is published in the turn that accepted it");
    accepted_.clear();
    started_.clear();
    finished_.clear();
    placed_.clear();
    broadcasts_.clear();
    // Nothing a peer hears may get ahead of the journal: FORWARDs, reports and cancels are
    // sent again from the peer outbox, TAKEN when the origin forwards again.
    to_peers_.clear();
    // Events tell what the journal holds; this turn's changes are not in it.
    events_.clear();
    outcome_writes_.clear();
    return undo;
}

void Turn::rewrite_later(std::vector<Job*> jobs, std::vector<std::string> outcomes) {
    unwritten_.insert(unwritten_.end(), jobs.begin(), jobs.end());
    unwritten_outcomes_.insert(unwritten_outcomes_.end(), outcomes.begin(), outcomes.end());
}

void Turn::rewrite_placements_later(std::vector<Job*> jobs) {
    unwritten_placements_.insert(unwritten_placements_.end(), jobs.begin(), jobs.end());
}

Turn::Rewrites Turn::take_rewrites() {
    Rewrites rewrites{std::move(unwritten_), std::move(unwritten_outcomes_), std::move(unwritten_placements_)};
    unwritten_.clear();
    unwritten_outcomes_.clear();
    unwritten_placements_.clear();
    return rewrites;
}

}  // namespace zq::node
