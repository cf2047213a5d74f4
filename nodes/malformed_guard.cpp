#include "malformed_guard.hpp"

namespace zq::node {
namespace {
constexpr std::int64_t kWindowMs = 1000;
}  // namespace

bool MalformedGuard::ignored(const std::string& sender, std::int64_t now_ms) {
    auto found = senders_.find(sender);
    if (found == senders_.end() || found->second.ignored_until_ms == 0) return false;
    if (now_ms < found->second.ignored_until_ms) return true;
    senders_.erase(found);  // served its time: a fresh start
    return false;
}

bool MalformedGuard::malformed(const std::string& sender, std::int64_t now_ms) {
    auto found = senders_.find(sender);
    if (found == senders_.end()) {
        if (senders_.size() >= settings_.max_tracked) sweep(now_ms);
        if (senders_.size() >= settings_.max_tracked) return false;
        found = senders_.emplace(sender, Sender{now_ms, 0, 0}).first;
    }
    Sender& entry = found->second;
    if (entry.ignored_until_ms != 0) return false;  // already ignored; counted once
    if (now_ms - entry.window_start_ms >= kWindowMs) {
        entry.window_start_ms = now_ms;
        entry.count = 0;
    }
    if (++entry.count <= settings_.limit_per_second) return false;
    entry.ignored_until_ms = now_ms + settings_.ignore_ms;
    ++disconnects_;
    return true;
}

void MalformedGuard::sweep(std::int64_t now_ms) {
    std::erase_if(senders_, [&](const auto& entry) {
        const Sender& sender = entry.second;
        bool serving = sender.ignored_until_ms != 0 && now_ms < sender.ignored_until_ms;
        return !serving && now_ms - sender.window_start_ms >= kWindowMs;
    });
}

}  // namespace zq::node
