#include "timetable.hpp"

#include "invariant.hpp"

namespace zq::node {

void Timetable::add(Job& job, std::int64_t due_ms) {
    ZQ_ASSERT(!contains(job), "a job is in a timetable once");
    where_.emplace(&job, due_.emplace(due_ms, &job));
}

bool Timetable::remove(Job& job) {
    auto found = where_.find(&job);
    if (found == where_.end()) return false;
    due_.erase(found->second);
    where_.erase(found);
    return true;
}

std::optional<std::int64_t> Timetable::next_due() const {
    if (due_.empty()) return std::nullopt;
    return due_.begin()->first;
}

std::vector<Job*> Timetable::take_due(std::int64_t now_ms) {
    std::vector<Job*> due;
    auto end = due_.upper_bound(now_ms);
    for (auto entry = due_.begin(); entry != end; ++entry) {
        due.push_back(entry->second);
        where_.erase(entry->second);
    }
    due_.erase(due_.begin(), end);
    return due;
}

}  // namespace zq::node
