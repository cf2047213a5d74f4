#include "key_outbox.hpp"

#include "invariant.hpp"

#include <algorithm>
#include <utility>

namespace zq::node {

void KeyOutbox::add(const std::string& id, std::vector<KeyLock> locks) {
    ZQ_ASSERT(!locks.empty(), "a job enters the key outbox only with a lock to take");
    Job& job = jobs_[id];
    job = Job{};
    job.order = next_order_++;
    job.locks = std::move(locks);
    job.why = "waiting for the home of " + lock_label(job.locks.front().name);
}

void KeyOutbox::add_admitted(const std::string& id, std::vector<KeyLock> locks) {
    add(id, std::move(locks));
    Job& job = jobs_.find(id)->second;
    job.granted = job.locks.size();
    job.why.clear();
}

bool KeyOutbox::admitted(std::string_view id) const {
    auto at = jobs_.find(id);
    return at != jobs_.end() && at->second.granted == at->second.locks.size();
}

KeyRequest KeyOutbox::request(const std::string& id, const Job& job, std::size_t index) const {
    const KeyLock& lock = job.locks[index];
    return KeyRequest{id, lock.name, self_, lock.policy, lock.limit, index < job.granted};
}

std::optional<KeyRequest> KeyOutbox::asking(std::string_view id) const {
    auto at = jobs_.find(id);
    if (at == jobs_.end() || at->second.granted == at->second.locks.size()) return std::nullopt;
    return request(at->first, at->second, at->second.granted);
}

void KeyOutbox::asked(std::string_view id, std::string home) {
    if (auto at = jobs_.find(id); at != jobs_.end()) at->second.home = std::move(home);
}

bool KeyOutbox::asks_for(std::string_view id, std::string_view lock) const {
    auto at = jobs_.find(id);
    return at != jobs_.end() && at->second.granted < at->second.locks.size() &&
           at->second.locks[at->second.granted].name == lock;
}

bool KeyOutbox::granted(std::string_view id, std::string_view lock) {
    if (!asks_for(id, lock)) return false;
    Job& job = jobs_.find(id)->second;
    ++job.granted;
    job.home.clear();
    job.why = job.granted < job.locks.size() ? "waiting for the home of " + lock_label(job.locks[job.granted].name)
                                             : std::string();
    return true;
}

void KeyOutbox::set_reason(std::string_view id, std::string why) {
    if (auto at = jobs_.find(id); at != jobs_.end()) at->second.why = std::move(why);
}

void KeyOutbox::hold_answer(std::string_view id, std::string client) {
    if (auto at = jobs_.find(id); at != jobs_.end()) at->second.answer_clients.push_back(std::move(client));
}

std::vector<std::string> KeyOutbox::take_answer_clients(std::string_view id) {
    auto at = jobs_.find(id);
    if (at == jobs_.end()) return {};
    return std::exchange(at->second.answer_clients, {});
}

std::vector<KeyOutbox::Slot> KeyOutbox::remove(std::string_view id, const HomeOf& home_of) {
    std::vector<Slot> slots;
    auto at = jobs_.find(id);
    if (at == jobs_.end()) return slots;
    const Job& job = at->second;
    // The held slots, and the one asked for (its home may have it as a waiter, or granted it
    // with the answer still on its way).
    const std::size_t last = std::min(job.granted + 1, job.locks.size());
    for (std::size_t i = 0; i < last; ++i) {
        std::string home = i < job.granted ? home_of(job.locks[i].name) : job.home;
        if (!home.empty()) slots.push_back({std::move(home), job.locks[i].name});
    }
    jobs_.erase(at);
    return slots;
}

std::vector<const std::pair<const std::string, KeyOutbox::Job>*> KeyOutbox::in_order() const {
    std::vector<const std::pair<const std::string, Job>*> ordered;
    ordered.reserve(jobs_.size());
    for (const auto& entry : jobs_) ordered.push_back(&entry);
    std::sort(ordered.begin(), ordered.end(), [](auto* a, auto* b) { return a->second.order < b->second.order; });
    return ordered;
}

std::vector<std::string> KeyOutbox::rehome(const HomeOf& home_of) {
    std::vector<std::string> moved;
    for (const auto* entry : in_order()) {
        const Job& job = entry->second;
        if (job.granted == job.locks.size()) continue;
        if (home_of(job.locks[job.granted].name) != job.home) moved.push_back(entry->first);
    }
    return moved;
}

std::map<std::string, std::vector<KeyRequest>> KeyOutbox::requests_by_home(const HomeOf& home_of) const {
    std::map<std::string, std::vector<KeyRequest>> by_home;
    for (const auto* entry : in_order()) {
        const Job& job = entry->second;
        const std::size_t last = std::min(job.granted + 1, job.locks.size());
        for (std::size_t i = 0; i < last; ++i) {
            std::string home = home_of(job.locks[i].name);
            if (!home.empty()) by_home[home].push_back(request(entry->first, job, i));
        }
    }
    return by_home;
}

std::vector<std::pair<std::string, std::string>> KeyOutbox::waiting() const {
    std::vector<std::pair<std::string, std::string>> jobs;
    for (const auto* entry : in_order()) {
        if (entry->second.granted < entry->second.locks.size()) jobs.emplace_back(entry->first, entry->second.why);
    }
    return jobs;
}

}  // namespace zq::node
