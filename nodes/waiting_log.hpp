// The log lines about jobs that wait because no node can take them: bounded, whatever the
// number of jobs.
//
// A node with many waiting jobs used to log one line per job each time the reason changed
// (a peer lost, a peer back): 2 MB in 90 s. Now each reason gets at most one line per
// interval, naming one job; the other jobs that came to wait for the same reason within the
// interval are counted and summed up in one line when it ends ("999 more jobs waiting: ...").
// `zq-node status` still lists every waiting job with its reason. Pure (the caller passes the
// time), so it is tested without a node.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace zq::node {

class WaitingLog {
public:
    // One line per reason per `interval_ms`; at most `max_reasons` reasons remembered.
    explicit WaitingLog(std::int64_t interval_ms, std::size_t max_reasons = 1024);

    // Job `id` (task `task`) now waits for `reason`. The line to log now, or nullopt when
    // that reason was logged less than an interval ago (the job is counted instead).
    std::optional<std::string> note(std::string_view id, std::string_view task, const std::string& reason,
                                    std::int64_t now_ms);
    // The summary lines of the reasons whose interval has ended with jobs counted; reasons
    // quiet for an interval are forgotten.
    std::vector<std::string> due(std::int64_t now_ms);

    std::size_t reasons() const { return reasons_.size(); }

private:
    struct Reason {
        std::int64_t logged_ms = 0;  // when its last line was written
        std::uint64_t unlogged = 0;  // jobs that came to wait for it since, not yet in a line
    };
    std::int64_t interval_ms_;
    std::size_t max_reasons_;
    std::unordered_map<std::string, Reason> reasons_;
};

}  // namespace zq::node
