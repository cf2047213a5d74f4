// The retry schedule: jobs that failed and wait out their retry delay, by the time (unix ms)
// at which they are queued again.
//
// It keeps no timer: the dispatcher arms one for next_due() and calls take_due() when it
// fires, so the schedule can be tested with any clock.
#pragma once

#include "job_table.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

namespace zq::node {

class RetrySchedule {
public:
    void add(Job& job, std::int64_t due_ms);
    // Takes the job off the schedule (canceled, or the node stops); false when it was not on it.
    bool remove(Job& job);
    bool contains(const Job& job) const;
    std::size_t size() const { return due_.size(); }

    // The earliest due time, if any job is scheduled.
    std::optional<std::int64_t> next_due() const;
    // Takes the jobs due at `now_ms` or earlier, earliest first (in the order they were
    // added when due together).
    std::vector<Job*> take_due(std::int64_t now_ms);

private:
    std::multimap<std::int64_t, Job*> due_;
};

}  // namespace zq::node
