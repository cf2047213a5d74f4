// The capacity gate: whether a ready job may start on this node now, given what runs here.
//
// Three local limits (AWX's impact and dispatcherd's queue limits):
//   - weight: a job takes `weight` capacity units while it runs; the weights of what runs add
//     up to at most the node's `capacity` (default max_workers, so weight 1 changes nothing);
//   - exclusive: the job runs alone on the node;
//   - [queue.NAME] concurrency: at most N jobs of the queue run at once on this node.
//
// The dispatcher asks admit() before it hands a ready job to a worker, and tells the gate when
// a job is handed over, starts (a prefetched one), and leaves its worker (finished, retrying,
// returned, worker lost, put back by a failed commit). A job the gate refuses is held here,
// aside from the ready queue, so that it does not block the jobs behind it that fit; it goes
// back to the front of the ready queue when what held it may have changed (take_woken()).
//
// Prefetch: a job handed to a busy worker (held behind its running task) takes no unit until
// the worker starts it; it then takes the unit its worker's previous job gave back. Only plain
// jobs (weight 1, not exclusive, a queue without a limit) are prefetched, so a worker's units
// are always the weight of the one job it runs. An exclusive job waits until no worker holds
// anything, prefetched jobs included.
//
// Starvation: a heavy job may be passed by lighter jobs that fit (backfill), so under a steady
// stream of light jobs it can wait long. An exclusive job cannot: once it is first in line
// (refused because others run), nothing new starts until it has run.
//
// The gate is pure: no clock, no uv, no journal (tests/test_capacity_gate.cpp). It holds
// pointers to jobs of the job table; a job leaves the gate (remove()) before the table forgets it.
#pragma once

#include "config.hpp"
#include "job_table.hpp"

#include <zq/task.hpp>

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace zq::node {

// A job's weight and exclusivity as submitted: its own `wt` wins, else its task's weight, else
// 1; it is exclusive if it or its task says so.
void settle_capacity_demand(Task& task, const Config& config);

class CapacityGate {
public:
    enum class Verdict {
        start,             // it may start now
        weight,            // not enough units free
        exclusive,         // it is exclusive and other jobs are on workers
        behind_exclusive,  // an exclusive job runs or is first in line
        queue_limit,       // its queue has its limit of jobs running here
    };

    // `capacity` units; `queue_limits` by queue name (0 or absent: no limit).
    CapacityGate(std::uint64_t capacity, std::map<std::string, unsigned, std::less<>> queue_limits);
    explicit CapacityGate(const Config& config);

    // Units the job takes here: its weight, at most the node's capacity (a heavier job, which
    // placement sends here only when no node is big enough, needs the whole node).
    std::uint64_t units_of(const JobRecord& job) const;
    // Whether a worker may hold the job behind a running task (prefetch): weight 1, not
    // exclusive, no queue limit.
    bool prefetchable(const JobRecord& job) const;
    Verdict admit(const Job& job) const;

    // The job goes to a worker. `starts_now`: an idle worker runs it at once (its units are
    // taken now); otherwise it waits behind the worker's task and takes them at started().
    void handed_over(Job& job, bool starts_now);
    // A prefetched job's worker started it.
    void started(Job& job);
    // The job left its worker (ended, retrying, returned, worker lost): its units are free.
    void left_worker(Job& job);

    // Holds a job admit() refused, in the order refused, until take_woken() gives it back.
    void hold(Job& job, Verdict why);
    // Takes the job out of the held jobs (canceled, expired); false when it was not held.
    bool remove(Job& job);
    bool holds(const Job& job) const;
    // The held jobs that may fit now, in the order they were refused: the dispatcher puts them
    // back at the front of the ready queue. Cheap when nothing changed since the last call.
    void take_woken(std::vector<Job*>& woken);

    std::uint64_t capacity() const { return capacity_; }
    std::uint64_t units_in_use() const { return units_in_use_; }
    std::uint64_t free_units() const { return capacity_ > units_in_use_ ? capacity_ - units_in_use_ : 0; }
    // Units a new job could take now: none while an exclusive job runs or is first in line.
    std::uint64_t offered_units() const { return exclusive_running_ || exclusive_next_ ? 0 : free_units(); }
    // Jobs on workers, prefetched ones included.
    std::uint64_t on_workers() const { return on_workers_; }
    std::uint64_t running_in_queue(std::string_view queue) const;
    std::size_t held() const;
    // Each held job and why it waits ("weight 5: 3 of 8 units free"), for status.
    std::vector<std::pair<std::string, std::string>> held_reasons() const;
    // Why a job refused for `why` waits, in words.
    std::string reason(const Job& job, Verdict why) const;

private:
    unsigned limit_of(std::string_view queue) const;
    void wake_all(std::deque<Job*>& jobs, std::vector<Job*>& woken);

    std::uint64_t capacity_;
    std::map<std::string, unsigned, std::less<>> queue_limits_;  // only queues with a limit
    std::uint64_t units_in_use_ = 0;
    std::uint64_t on_workers_ = 0;
    std::map<std::string, std::uint64_t, std::less<>> running_by_queue_;  // limited queues only
    const Job* exclusive_running_ = nullptr;
    Job* exclusive_next_ = nullptr;  // first in line: refused while others were on workers
    bool exclusive_next_queued_ = false;  // woken: back in the ready queue, still first in line

    std::deque<Job*> held_for_units_;
    std::deque<Job*> held_behind_exclusive_;
    std::map<std::string, std::deque<Job*>, std::less<>> held_by_queue_;
    // Something left a worker since take_woken() last looked.
    bool changed_ = false;
};

}  // namespace zq::node
