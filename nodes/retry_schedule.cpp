#include "retry_schedule.hpp"

#include "invariant.hpp"

#include <algorithm>

namespace zq::node {

void RetrySchedule::add(Job& job, std::int64_t due_ms) {
    ZQ_ASSERT(!contains(job), "a job is scheduled for one retry at a time");
    due_.emplace(due_ms, &job);
}

bool RetrySchedule::remove(Job& job) {
    return std::erase_if(due_, [&job](const auto& entry) { return entry.second == &job; }) > 0;
}

bool RetrySchedule::contains(const Job& job) const {
    return std::any_of(due_.begin(), due_.end(), [&job](const auto& entry) { return entry.second == &job; });
}

std::optional<std::int64_t> RetrySchedule::next_due() const {
    if (due_.empty()) return std::nullopt;
    return due_.begin()->first;
}

std::vector<Job*> RetrySchedule::take_due(std::int64_t now_ms) {
    std::vector<Job*> due;
    auto end = due_.upper_bound(now_ms);
    for (auto entry = due_.begin(); entry != end; ++entry) due.push_back(entry->second);
    due_.erase(due_.begin(), end);
    return due;
}

}  // namespace zq::node
