#include "ready_queue.hpp"

#include "invariant.hpp"

#include <algorithm>

namespace zq::node {

void ReadyQueue::push(Job& job) {
    ZQ_ASSERT(!contains(job), "a job is queued once");
    levels_[job.record.priority].push_back(&job);
    ++size_;
}

void ReadyQueue::push_front(Job& job) {
    ZQ_ASSERT(!contains(job), "a job is queued once");
    levels_[job.record.priority].push_front(&job);
    ++size_;
}

Job* ReadyQueue::front() const { return levels_.empty() ? nullptr : levels_.begin()->second.front(); }

Job* ReadyQueue::pop() {
    if (levels_.empty()) return nullptr;
    auto level = levels_.begin();
    Job* job = level->second.front();
    level->second.pop_front();
    --size_;
    if (level->second.empty()) levels_.erase(level);
    return job;
}

bool ReadyQueue::remove(Job& job) {
    auto level = levels_.find(job.record.priority);
    if (level == levels_.end()) return false;
    auto& jobs = level->second;
    auto found = std::find(jobs.begin(), jobs.end(), &job);
    if (found == jobs.end()) return false;
    jobs.erase(found);
    --size_;
    if (jobs.empty()) levels_.erase(level);
    return true;
}

bool ReadyQueue::contains(const Job& job) const {
    auto level = levels_.find(job.record.priority);
    return level != levels_.end() && std::find(level->second.begin(), level->second.end(), &job) != level->second.end();
}

}  // namespace zq::node
