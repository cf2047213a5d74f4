// A timetable: jobs that wait for a time (unix ms), by that time. The dispatcher keeps two:
// one of the times at which jobs are queued (an ETA, or a retry's next attempt) and one of
// the times at which jobs that have not started expire.
//
// It keeps no timer: the dispatcher arms one for next_due() and calls take_due() when it
// fires, so the timetable can be tested with any clock.
#pragma once

#include "job_table.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <unordered_map>
#include <vector>

namespace zq::node {

class Timetable {
public:
    // A job is in a timetable at most once.
    void add(Job& job, std::int64_t due_ms);
    // Takes the job out; false when it was not in.
    bool remove(Job& job);
    bool contains(const Job& job) const { return where_.contains(&job); }
    std::size_t size() const { return due_.size(); }

    // The earliest due time, if any job is in.
    std::optional<std::int64_t> next_due() const;
    // Takes the jobs due at `now_ms` or earlier, earliest first (in the order they were
    // added when due together).
    std::vector<Job*> take_due(std::int64_t now_ms);

private:
    using Entries = std::multimap<std::int64_t, Job*>;
    Entries due_;
    std::unordered_map<const Job*, Entries::iterator> where_;
};

}  // namespace zq::node
