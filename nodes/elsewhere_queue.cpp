#include "elsewhere_queue.hpp"

#include "invariant.hpp"

namespace zq::node {

void ElsewhereQueue::add(Job& job) {
    ZQ_ASSERT(!contains(job), "a job waits for another node once");
    index_[&job] = entries_.insert(entries_.end(), Entry{&job, {}});
}

bool ElsewhereQueue::remove(Job& job) {
    auto found = index_.find(&job);
    if (found == index_.end()) return false;
    entries_.erase(found->second);
    index_.erase(found);
    return true;
}

bool ElsewhereQueue::contains(const Job& job) const { return index_.count(&job) > 0; }

std::vector<Job*> ElsewhereQueue::jobs() const {
    std::vector<Job*> jobs;
    jobs.reserve(entries_.size());
    for (const Entry& entry : entries_) jobs.push_back(entry.job);
    return jobs;
}

bool ElsewhereQueue::set_reason(Job& job, const std::string& reason) {
    auto found = index_.find(&job);
    ZQ_ASSERT(found != index_.end(), "a job given a wait reason waits for another node");
    if (found == index_.end() || found->second->reason == reason) return false;
    found->second->reason = reason;
    return true;
}

std::vector<std::pair<std::string, std::string>> ElsewhereQueue::waiting() const {
    std::vector<std::pair<std::string, std::string>> waiting;
    for (const Entry& entry : entries_) {
        if (entry.job->record.state == JobState::waiting) waiting.emplace_back(entry.job->record.id, entry.reason);
    }
    return waiting;
}

}  // namespace zq::node
