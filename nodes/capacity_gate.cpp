#include "capacity_gate.hpp"

#include "invariant.hpp"

#include <algorithm>

namespace zq::node {
namespace {

std::map<std::string, unsigned, std::less<>> limits_of(const Config& config) {
    std::map<std::string, unsigned, std::less<>> limits;
    for (const auto& [name, queue] : config.queue_settings) {
        if (queue.concurrency > 0) limits.emplace(name, queue.concurrency);
    }
    return limits;
}

bool take_out(std::deque<Job*>& jobs, const Job& job) {
    auto found = std::find(jobs.begin(), jobs.end(), &job);
    if (found == jobs.end()) return false;
    jobs.erase(found);
    return true;
}

bool among(const std::deque<Job*>& jobs, const Job& job) {
    return std::find(jobs.begin(), jobs.end(), &job) != jobs.end();
}

}  // namespace

void settle_capacity_demand(Task& task, const Config& config) {
    // Most jobs name a task without settings: one lookup in a map that is usually empty.
    if (config.tasks.empty()) return;
    auto settings = config.tasks.find(task.name);
    if (settings == config.tasks.end()) return;
    if (task.weight == 0) task.weight = settings->second.weight;
    task.exclusive = task.exclusive || settings->second.exclusive;
}

CapacityGate::CapacityGate(std::uint64_t capacity, std::map<std::string, unsigned, std::less<>> queue_limits)
    : capacity_(std::max<std::uint64_t>(capacity, 1)) {
    for (auto& [name, limit] : queue_limits) {
        if (limit > 0) queue_limits_.emplace(name, limit);
    }
}

CapacityGate::CapacityGate(const Config& config) : CapacityGate(config.capacity, limits_of(config)) {}

std::uint64_t CapacityGate::units_of(const JobRecord& job) const {
    return std::min<std::uint64_t>(std::max<std::uint32_t>(job.weight, 1), capacity_);
}

unsigned CapacityGate::limit_of(std::string_view queue) const {
    if (queue_limits_.empty()) return 0;
    auto found = queue_limits_.find(queue);
    return found == queue_limits_.end() ? 0 : found->second;
}

bool CapacityGate::prefetchable(const JobRecord& job) const {
    return job.weight <= 1 && !job.exclusive && limit_of(job.queue) == 0;
}

std::uint64_t CapacityGate::running_in_queue(std::string_view queue) const {
    auto found = running_by_queue_.find(queue);
    return found == running_by_queue_.end() ? 0 : found->second;
}

CapacityGate::Verdict CapacityGate::admit(const Job& job) const {
    if (exclusive_running_) return Verdict::behind_exclusive;
    if (exclusive_next_ && exclusive_next_ != &job) return Verdict::behind_exclusive;
    const JobRecord& record = job.record;
    if (record.exclusive) return on_workers_ == 0 ? Verdict::start : Verdict::exclusive;
    if (unsigned limit = limit_of(record.queue); limit > 0 && running_in_queue(record.queue) >= limit) {
        return Verdict::queue_limit;
    }
    if (units_of(record) > free_units()) return Verdict::weight;
    return Verdict::start;
}

void CapacityGate::handed_over(Job& job, bool starts_now) {
    ZQ_ASSERT(!job.on_worker, "a job is handed to one worker at a time");
    job.on_worker = true;
    ++on_workers_;
    const JobRecord& record = job.record;
    if (record.exclusive) {
        exclusive_running_ = &job;
        if (exclusive_next_ == &job) exclusive_next_ = nullptr, exclusive_next_queued_ = false;
    }
    if (limit_of(record.queue) > 0) ++running_by_queue_[record.queue];
    if (starts_now) started(job);
}

void CapacityGate::started(Job& job) {
    if (!job.on_worker || job.units > 0) return;
    job.units = static_cast<std::uint32_t>(units_of(job.record));
    units_in_use_ += job.units;
}

void CapacityGate::left_worker(Job& job) {
    if (!job.on_worker) return;
    job.on_worker = false;
    --on_workers_;
    units_in_use_ -= std::min<std::uint64_t>(job.units, units_in_use_);
    job.units = 0;
    if (exclusive_running_ == &job) exclusive_running_ = nullptr;
    if (limit_of(job.record.queue) > 0) {
        auto running = running_by_queue_.find(job.record.queue);
        if (running != running_by_queue_.end() && running->second > 0) --running->second;
    }
    changed_ = true;
}

void CapacityGate::hold(Job& job, Verdict why) {
    ZQ_ASSERT(!holds(job), "a job is held once");
    switch (why) {
        case Verdict::start:
            ZQ_ASSERT(false, "a job the gate admits is not held");
            break;
        case Verdict::exclusive:
            // First in line: nothing new starts until it has run.
            if (exclusive_next_ == &job) {
                exclusive_next_queued_ = false;
            } else if (!exclusive_next_) {
                exclusive_next_ = &job;
            } else {
                held_behind_exclusive_.push_back(&job);
            }
            break;
        case Verdict::behind_exclusive:
            held_behind_exclusive_.push_back(&job);
            break;
        case Verdict::queue_limit:
            held_by_queue_[job.record.queue].push_back(&job);
            break;
        case Verdict::weight:
            held_for_units_.push_back(&job);
            break;
    }
}

bool CapacityGate::remove(Job& job) {
    if (exclusive_next_ == &job) {
        exclusive_next_ = nullptr;
        exclusive_next_queued_ = false;
        changed_ = true;  // what waited behind it may start now
        return true;
    }
    if (take_out(held_for_units_, job) || take_out(held_behind_exclusive_, job)) return true;
    auto queue = held_by_queue_.find(job.record.queue);
    return queue != held_by_queue_.end() && take_out(queue->second, job);
}

bool CapacityGate::holds(const Job& job) const {
    if ((exclusive_next_ == &job && !exclusive_next_queued_) || among(held_for_units_, job) || among(held_behind_exclusive_, job)) return true;
    auto queue = held_by_queue_.find(job.record.queue);
    return queue != held_by_queue_.end() && among(queue->second, job);
}

std::size_t CapacityGate::held() const {
    std::size_t count = held_for_units_.size() + held_behind_exclusive_.size() + (exclusive_next_ && !exclusive_next_queued_ ? 1 : 0);
    for (const auto& [name, jobs] : held_by_queue_) count += jobs.size();
    return count;
}

void CapacityGate::wake_all(std::deque<Job*>& jobs, std::vector<Job*>& woken) {
    woken.insert(woken.end(), jobs.begin(), jobs.end());
    jobs.clear();
}

void CapacityGate::take_woken(std::vector<Job*>& woken) {
    if (!changed_) return;
    changed_ = false;
    if (exclusive_running_) return;
    if (exclusive_next_) {
        // Only the exclusive job may start, and only once every worker is empty. It stays first
        // in line while it is back in the ready queue, so that nothing passes it there.
        if (on_workers_ == 0 && !exclusive_next_queued_) {
            woken.push_back(exclusive_next_);
            exclusive_next_queued_ = true;
        }
        return;
    }
    wake_all(held_behind_exclusive_, woken);
    // As many of each limited queue as it has free places.
    for (auto& [name, jobs] : held_by_queue_) {
        std::uint64_t running = running_in_queue(name), limit = limit_of(name);
        for (std::uint64_t free = limit > running ? limit - running : 0; free > 0 && !jobs.empty(); --free) {
            woken.push_back(jobs.front());
            jobs.pop_front();
        }
    }
    // Those that fit in the units free, in order, skipping the ones that do not (backfill).
    std::uint64_t budget = free_units();
    for (auto each = held_for_units_.begin(); budget > 0 && each != held_for_units_.end();) {
        std::uint64_t units = units_of((*each)->record);
        if (units > budget) {
            ++each;
            continue;
        }
        budget -= units;
        woken.push_back(*each);
        each = held_for_units_.erase(each);
    }
}

std::string CapacityGate::reason(const Job& job, Verdict why) const {
    auto running_text = [](std::uint64_t count) {
        return std::to_string(count) + (count == 1 ? " running job" : " running jobs");
    };
    switch (why) {
        case Verdict::start:
            return {};
        case Verdict::weight:
            return "weight " + std::to_string(units_of(job.record)) + ": " + std::to_string(free_units()) + " of " +
                   std::to_string(capacity_) + " units free";
        case Verdict::exclusive:
            return "exclusive: waits for " + running_text(on_workers_) + " to end";
        case Verdict::behind_exclusive:
            if (exclusive_running_) return "behind exclusive job " + exclusive_running_->record.id + ", running";
            if (exclusive_next_) {
                return "behind exclusive job " + exclusive_next_->record.id + ", which waits for " +
                       running_text(on_workers_) + " to end";
            }
            return "behind an exclusive job";
        case Verdict::queue_limit:
            return "queue " + job.record.queue + ": " + std::to_string(running_in_queue(job.record.queue)) + " of " +
                   std::to_string(limit_of(job.record.queue)) + " running on this node";
    }
    return {};
}

std::vector<std::pair<std::string, std::string>> CapacityGate::held_reasons() const {
    std::vector<std::pair<std::string, std::string>> reasons;
    if (exclusive_next_ && !exclusive_next_queued_) reasons.emplace_back(exclusive_next_->record.id, reason(*exclusive_next_, Verdict::exclusive));
    // A held job is described by what holds it now, which may differ from what held it first.
    auto describe = [&](const Job* job) {
        Verdict now = admit(*job);
        if (now == Verdict::start) now = Verdict::weight;  // it fits and starts in this turn
        reasons.emplace_back(job->record.id, now == Verdict::weight && units_of(job->record) <= free_units()
                                                 ? "about to start"
                                                 : reason(*job, now));
    };
    for (const Job* job : held_behind_exclusive_) describe(job);
    for (const auto& [name, jobs] : held_by_queue_) {
        for (const Job* job : jobs) describe(job);
    }
    for (const Job* job : held_for_units_) describe(job);
    return reasons;
}

}  // namespace zq::node
