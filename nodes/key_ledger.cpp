#include "key_ledger.hpp"

#include "invariant.hpp"

#include <algorithm>
#include <set>
#include <utility>

namespace zq::node {
namespace {

template <class Entries>
auto find_id(Entries& entries, std::string_view id) {
    return std::find_if(entries.begin(), entries.end(), [id](const auto& entry) { return entry.id == id; });
}

}  // namespace

std::string_view to_string(KeyVerdict verdict) {
    switch (verdict) {
        case KeyVerdict::granted: return "granted";
        case KeyVerdict::waiting: return "waiting";
        case KeyVerdict::dropped: return "dropped";
    }
    return "waiting";
}

std::string KeyLedger::describe(std::string_view lock_name) const {
    auto lock = locks_.find(lock_name);
    const std::size_t running = lock == locks_.end() ? 0 : lock->second.holders.size();
    const std::uint32_t limit = lock == locks_.end() ? 1 : lock->second.limit;
    std::string text = lock_label(lock_name) + ": " + std::to_string(running) + " of " + std::to_string(limit) +
                       " running";
    if (lock_name.starts_with("queue:")) text += " in the cluster";
    return text;
}

KeyAnswer KeyLedger::answer(const std::string& lock_name, const Lock&, const Entry& entry, KeyVerdict verdict) const {
    KeyAnswer answer{entry.origin, entry.id, lock_name, verdict, {}, {}};
    if (verdict == KeyVerdict::waiting) answer.why = describe(lock_name);
    return answer;
}

std::vector<KeyAnswer> KeyLedger::acquire(const KeyRequest& request) {
    // Not a structured binding: the lambdas below capture `at`, which clang before 16 refuses
    // for a binding (the fuzz build uses Debian's clang).
    const auto at = locks_.try_emplace(request.lock).first;
    Lock& lock = at->second;
    // The newest request's limit is the lock's: a changed config takes effect as jobs arrive.
    lock.limit = std::max<std::uint32_t>(request.limit, 1);
    Entry entry{request.id, request.origin};
    std::vector<KeyAnswer> answers;
    if (auto holder = find_id(lock.holders, request.id); holder != lock.holders.end()) {
        holder->origin = request.origin;
        answers.push_back(answer(at->first, lock, entry, KeyVerdict::granted));
        return answers;
    }
    if (auto waiter = find_id(lock.waiters, request.id); waiter != lock.waiters.end()) {
        if (!request.held) {
            if (!holding_) answers.push_back(answer(at->first, lock, entry, KeyVerdict::waiting));
            return answers;
        }
        lock.waiters.erase(waiter);
    }
    if (request.held) {
        lock.holders.push_back(std::move(entry));
        answers.push_back(answer(at->first, lock, lock.holders.back(), KeyVerdict::granted));
        return answers;
    }
    const bool slot_free = !holding_ && lock.holders.size() < lock.limit && lock.waiters.empty();
    auto drop = [&](const Entry& original) {
        KeyAnswer dropped{request.origin, request.id, at->first, KeyVerdict::dropped, {}, original.id};
        dropped.why = "duplicate of " + original.id + " (" + lock_label(at->first) + ")";
        answers.push_back(std::move(dropped));
        if (lock.holders.empty() && lock.waiters.empty()) locks_.erase(at);
    };
    switch (request.policy) {
        case KeyPolicy::discard:
            // Dropped while a job of the key is queued or running (holds a slot) or waits.
            if (!lock.holders.empty()) return drop(lock.holders.front()), answers;
            if (!lock.waiters.empty()) return drop(lock.waiters.front()), answers;
            break;
        case KeyPolicy::queue_one:
            // At most one waits: a further one duplicates the one already waiting.
            if (!slot_free && !lock.waiters.empty()) return drop(lock.waiters.back()), answers;
            break;
        case KeyPolicy::parallel:
        case KeyPolicy::serial: break;
    }
    if (slot_free) {
        lock.holders.push_back(std::move(entry));
        answers.push_back(answer(at->first, lock, lock.holders.back(), KeyVerdict::granted));
    } else {
        lock.waiters.push_back(std::move(entry));
        // While grants are held the home may not know every holder yet: it says nothing
        // rather than a verdict that could be wrong (the origin asks again every interval).
        if (!holding_) answers.push_back(answer(at->first, lock, lock.waiters.back(), KeyVerdict::waiting));
    }
    return answers;
}

std::vector<KeyAnswer> KeyLedger::release_hold() {
    holding_ = false;
    std::vector<KeyAnswer> answers;
    for (auto at = locks_.begin(); at != locks_.end();) {
        auto next = std::next(at);
        promote(at, answers);
        at = next;
    }
    // The waiters had no verdict during the hold: they hear it now.
    for (const auto& [name, lock] : locks_) {
        for (const Entry& waiter : lock.waiters) answers.push_back(answer(name, lock, waiter, KeyVerdict::waiting));
    }
    return answers;
}

void KeyLedger::promote(Locks::iterator at, std::vector<KeyAnswer>& answers) {
    Lock& lock = at->second;
    while (!holding_ && lock.holders.size() < lock.limit && !lock.waiters.empty()) {
        lock.holders.push_back(std::move(lock.waiters.front()));
        lock.waiters.pop_front();
        answers.push_back(answer(at->first, lock, lock.holders.back(), KeyVerdict::granted));
    }
    ZQ_ASSERT(holding_ || lock.waiters.empty() || lock.holders.size() >= lock.limit,
              "a lock with a free slot has no waiter");
    if (lock.holders.empty() && lock.waiters.empty()) locks_.erase(at);
}

std::vector<KeyAnswer> KeyLedger::release(std::string_view lock_name, std::string_view id) {
    std::vector<KeyAnswer> answers;
    auto at = locks_.find(lock_name);
    if (at == locks_.end()) return answers;
    Lock& lock = at->second;
    if (auto holder = find_id(lock.holders, id); holder != lock.holders.end()) lock.holders.erase(holder);
    if (auto waiter = find_id(lock.waiters, id); waiter != lock.waiters.end()) lock.waiters.erase(waiter);
    promote(at, answers);
    return answers;
}

std::vector<KeyAnswer> KeyLedger::forget_origin(std::string_view origin) {
    std::vector<KeyAnswer> answers;
    for (auto at = locks_.begin(); at != locks_.end();) {
        auto next = std::next(at);
        auto of_origin = [origin](const Entry& entry) { return entry.origin == origin; };
        std::erase_if(at->second.holders, of_origin);
        std::erase_if(at->second.waiters, of_origin);
        promote(at, answers);
        at = next;
    }
    return answers;
}

std::vector<KeyAnswer> KeyLedger::sync(std::string_view origin, const std::vector<KeyRequest>& requests) {
    std::vector<KeyAnswer> answers;
    std::set<std::pair<std::string_view, std::string_view>> listed_entries;
    for (const KeyRequest& request : requests) listed_entries.emplace(request.lock, request.id);
    auto listed = [&](std::string_view lock, std::string_view id) { return listed_entries.contains({lock, id}); };
    for (auto at = locks_.begin(); at != locks_.end();) {
        auto next = std::next(at);
        auto unlisted = [&](const Entry& entry) { return entry.origin == origin && !listed(at->first, entry.id); };
        std::erase_if(at->second.holders, unlisted);
        std::erase_if(at->second.waiters, unlisted);
        promote(at, answers);
        at = next;
    }
    // What the origin holds first, so that a slot it holds is not granted to a job it waits for.
    for (bool held : {true, false}) {
        for (const KeyRequest& request : requests) {
            if (request.held != held) continue;
            auto answered = acquire(request);
            answers.insert(answers.end(), answered.begin(), answered.end());
        }
    }
    return answers;
}

std::size_t KeyLedger::holders(std::string_view lock) const {
    auto at = locks_.find(lock);
    return at == locks_.end() ? 0 : at->second.holders.size();
}

std::size_t KeyLedger::waiters(std::string_view lock) const {
    auto at = locks_.find(lock);
    return at == locks_.end() ? 0 : at->second.waiters.size();
}

}  // namespace zq::node
