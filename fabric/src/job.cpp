#include <zq/job.hpp>

#include <array>

namespace zq {
namespace {
constexpr std::array<std::string_view, 10> kStateNames = {
    "pending", "accepted", "queued", "running", "succeeded", "failed", "error", "canceled", "retrying", "waiting",
};
}  // namespace

std::string_view to_string(JobState state) { return kStateNames[static_cast<std::size_t>(state)]; }

std::optional<JobState> job_state_from_string(std::string_view name) {
    for (std::size_t i = 0; i < kStateNames.size(); ++i) {
        if (kStateNames[i] == name) return static_cast<JobState>(i);
    }
    return std::nullopt;
}

bool is_terminal(JobState state) {
    return state == JobState::succeeded || state == JobState::failed || state == JobState::error ||
           state == JobState::canceled;
}

}  // namespace zq
