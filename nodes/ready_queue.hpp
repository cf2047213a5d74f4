// The ready queue: jobs this node will run as soon as a worker is free.
//
// Highest priority first, first come first served within a priority. A job taken out to
// start and then put back (its turn's commit failed) goes back to the front of its priority,
// so that it keeps its place. The queue holds pointers to jobs of the job table; a job
// leaves the queue before the table forgets it.
#pragma once

#include "job_table.hpp"

#include <cstdint>
#include <deque>
#include <functional>
#include <map>

namespace zq::node {

class ReadyQueue {
public:
    void push(Job& job);
    // Back at the front of its priority: it was popped and did not start.
    void push_front(Job& job);
    // The next job to start, or nullptr when the queue is empty; front() leaves it queued.
    Job* front() const;
    Job* pop();
    // Takes the job out wherever it is; false when it was not queued.
    bool remove(Job& job);
    bool contains(const Job& job) const;
    std::size_t size() const { return size_; }
    bool empty() const { return size_ == 0; }

    // Calls visit(Job&) in the order pop() would return the jobs, until it returns false.
    // The visitor may not change the queue: collect the jobs and act afterwards.
    template <class Visit>
    void visit(Visit&& visit) const {
        for (const auto& [priority, jobs] : levels_) {
            for (Job* job : jobs) {
                if (!visit(*job)) return;
            }
        }
    }

private:
    std::map<std::int64_t, std::deque<Job*>, std::greater<>> levels_;  // by priority, highest first
    std::size_t size_ = 0;
};

}  // namespace zq::node
