#include "waiting_log.hpp"

namespace zq::node {

WaitingLog::WaitingLog(std::int64_t interval_ms, std::size_t max_reasons)
    : interval_ms_(interval_ms), max_reasons_(max_reasons) {}

std::optional<std::string> WaitingLog::note(std::string_view id, std::string_view task, const std::string& reason,
                                            std::int64_t now_ms) {
    auto found = reasons_.find(reason);
    if (found != reasons_.end() && now_ms - found->second.logged_ms < interval_ms_) {
        ++found->second.unlogged;
        return std::nullopt;
    }
    // A new reason (or one quiet for an interval) is logged at once. So many distinct reasons
    // at once (one per made-up queue, say) are not remembered beyond the bound: each is
    // logged, as its job was submitted, and the memory stays bounded.
    if (found == reasons_.end() && reasons_.size() < max_reasons_) {
        found = reasons_.emplace(reason, Reason{}).first;
    }
    std::string line = "job " + std::string(id) + " (" + std::string(task) + ") waiting: " + reason;
    if (found != reasons_.end()) {
        if (found->second.unlogged > 0) {
            line += " (and " + std::to_string(found->second.unlogged) + " more jobs since the last line)";
        }
        found->second = Reason{now_ms, 0};
    }
    return line;
}

std::vector<std::string> WaitingLog::due(std::int64_t now_ms) {
    std::vector<std::string> lines;
    for (auto it = reasons_.begin(); it != reasons_.end();) {
        Reason& reason = it->second;
        if (now_ms - reason.logged_ms < interval_ms_) {
            ++it;
            continue;
        }
        if (reason.unlogged == 0) {
            it = reasons_.erase(it);
            continue;
        }
        lines.push_back(std::to_string(reason.unlogged) + " more jobs waiting: " + it->first);
        reason = Reason{now_ms, 0};
        ++it;
    }
    return lines;
}

}  // namespace zq::node
