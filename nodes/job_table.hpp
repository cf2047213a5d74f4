// The job table: every job the node holds (not yet terminal, or terminal and not yet sent),
// and the counts of the journal's jobs by state.
//
// The table is the only place where a held job changes state, so the counts cannot drift
// from the states: set_state() moves one count, add() counts a new job, release() keeps a
// finished job counted as the journal keeps it, drop() forgets a job the journal never took.
// The counts are those of the held jobs plus those of the jobs the journal keeps and the
// table no longer holds (its history), so `zq-node status` shows every job of the journal.
#pragma once

#include "journal.hpp"

#include <zq/job.hpp>

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace zq::node {

// The pool's name for one worker process (pool.hpp).
using WorkerId = std::uint64_t;

inline constexpr std::size_t kJobStateCount = static_cast<std::size_t>(kLastJobState) + 1;
using StateCounts = std::array<std::uint64_t, kJobStateCount>;

// One job as the node holds it: the record the journal keeps, plus what only memory knows.
struct Job {
    JobRecord record;
    std::vector<std::string> watchers;  // clients waiting for the outcome
    WorkerId worker = 0;                // the worker running it here, 0 when none
    // At the origin: the peer it was placed on, "*" for a broadcast, "" when it runs here.
    std::string owner;
    bool returned = false;  // taken back from a worker unstarted: not prefetched again
    // Dropped by its key's home as a duplicate of this job (on_duplicate discard, queue_one).
    std::string dedup;
    // What it takes of this node's capacity (capacity_gate.hpp): whether a worker holds it,
    // and the units it holds (0 while it waits behind a worker's running task).
    bool on_worker = false;
    std::uint32_t units = 0;
    // Set while its outcome is in memory only (a commit failed): the state the journal has,
    // which status shows until the outcome is written.
    std::optional<JobState> journaled_state;
};

class JobTable {
public:
    Job* find(std::string_view id);
    const Job* find(std::string_view id) const;
    std::size_t size() const { return jobs_.size(); }

    // Holds a job and counts it in its state: a new job, or one read back from the journal
    // at start-up (recount() afterwards takes it out of the history again).
    Job& add(JobRecord record);
    // The one way a held job changes state; the record's other fields are the caller's.
    void set_state(Job& job, JobState state);
    // Forgets a terminal job; it stays counted in its state, as the journal keeps it.
    void release(Job& job);
    // Forgets a job the journal never took (its commit failed): it is counted no more.
    void drop(Job& job);

    // The journal's counts by state (at start-up, after a purge): the held jobs keep their
    // own counts, and the rest is the history.
    void recount(const std::map<JobState, std::uint64_t>& journal_counts);
    // The journal's counts: a job whose outcome is not written yet counts in the state the
    // journal has for it.
    StateCounts counts() const;
    // A commit lost the job's outcome (it is terminal in memory); the journal has `journaled`
    // until the job is released, which happens once the outcome is written.
    void outcome_unwritten(Job& job, JobState journaled);
    // Whether the counts of the held jobs equal their states (what every change keeps).
    bool counts_match_states() const;

    // Calls visit(Job&) for every held job, in no particular order. The visitor may not add
    // or remove jobs: collect them and act afterwards.
    template <class Visit>
    void for_each(Visit&& visit) {
        for (auto& [id, job] : jobs_) visit(*job);
    }
    template <class Visit>
    void for_each(Visit&& visit) const {
        for (const auto& [id, job] : jobs_) visit(static_cast<const Job&>(*job));
    }

private:
    // Takes the job out of the table and its state out of the held counts.
    void forget(Job& job);

    std::unordered_map<std::string, std::unique_ptr<Job>> jobs_;
    StateCounts held_{};     // the held jobs by state
    StateCounts history_{};  // the journal's jobs the table does not hold, by state
    // The held jobs whose outcome is not written yet: by their state here, and by the state
    // the journal has.
    StateCounts unwritten_held_{};
    StateCounts unwritten_journaled_{};
};

}  // namespace zq::node
