#include "peer_outbox.hpp"

namespace zq::node {

void PeerOutbox::forwarded(const std::string& id, PeerMessage forward, std::int64_t now_ms) {
    forwards_[id] = Forward{std::move(forward), now_ms};
}

bool PeerOutbox::taken(std::string_view id) {
    auto found = forwards_.find(id);
    if (found == forwards_.end()) return false;
    forwards_.erase(found);
    return true;
}

bool PeerOutbox::awaiting_taken(std::string_view id) const { return forwards_.find(id) != forwards_.end(); }

void PeerOutbox::cancel_sent(const std::string& id, PeerMessage cancel) { cancels_[id] = std::move(cancel); }

void PeerOutbox::forget(std::string_view id) {
    if (auto found = forwards_.find(id); found != forwards_.end()) forwards_.erase(found);
    if (auto found = cancels_.find(id); found != cancels_.end()) cancels_.erase(found);
}

void PeerOutbox::reported(const std::string& id, PeerMessage report) { reports_[id] = std::move(report); }

const PeerMessage* PeerOutbox::report(std::string_view id) const {
    auto found = reports_.find(id);
    return found == reports_.end() ? nullptr : &found->second;
}

bool PeerOutbox::acknowledged(std::string_view id) {
    auto found = reports_.find(id);
    if (found == reports_.end()) return false;
    reports_.erase(found);
    return true;
}

bool PeerOutbox::tracks(std::string_view id) const {
    return forwards_.find(id) != forwards_.end() || cancels_.find(id) != cancels_.end();
}

std::vector<PeerMessage> PeerOutbox::due(std::int64_t now_ms, std::int64_t forward_interval_ms, const Alive& alive) {
    std::vector<PeerMessage> due;
    // A FORWARD is answered within a round trip; sending it on every tick would only
    // duplicate work the owner already does.
    for (auto& [id, forward] : forwards_) {
        if (now_ms - forward.sent_ms < forward_interval_ms || !alive(forward.message.node)) continue;
        forward.sent_ms = now_ms;
        due.push_back(forward.message);
    }
    for (const auto& [id, cancel] : cancels_) {
        if (alive(cancel.node)) due.push_back(cancel);
    }
    for (const auto& [id, report] : reports_) {
        if (alive(report.node)) due.push_back(report);
    }
    return due;
}

}  // namespace zq::node
