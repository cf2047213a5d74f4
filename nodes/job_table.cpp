#include "job_table.hpp"

#include "invariant.hpp"

namespace zq::node {
namespace {

std::size_t index_of(JobState state) { return static_cast<std::size_t>(state); }

}  // namespace

Job* JobTable::find(std::string_view id) {
    auto found = jobs_.find(std::string(id));
    return found == jobs_.end() ? nullptr : found->second.get();
}

const Job* JobTable::find(std::string_view id) const {
    auto found = jobs_.find(std::string(id));
    return found == jobs_.end() ? nullptr : found->second.get();
}

Job& JobTable::add(JobRecord record) {
    auto job = std::make_unique<Job>();
    job->record = std::move(record);
    Job& ref = *job;
    auto [entry, inserted] = jobs_.emplace(ref.record.id, std::move(job));
    ZQ_ASSERT(inserted, "a job added to the table is not held already");
    ++held_[index_of(ref.record.state)];
    return *entry->second;
}

void JobTable::set_state(Job& job, JobState state) {
    ZQ_ASSERT(find(job.record.id) == &job, "a job that changes state is held by the table");
    ZQ_ASSERT(held_[index_of(job.record.state)] > 0, "the count of a held job's state is not zero");
    --held_[index_of(job.record.state)];
    ++held_[index_of(state)];
    if (job.journaled_state) {
        --unwritten_held_[index_of(job.record.state)];
        ++unwritten_held_[index_of(state)];
    }
    job.record.state = state;
}

void JobTable::outcome_unwritten(Job& job, JobState journaled) {
    ZQ_ASSERT(find(job.record.id) == &job, "a job whose outcome is unwritten is held by the table");
    if (job.journaled_state) return;
    job.journaled_state = journaled;
    ++unwritten_held_[index_of(job.record.state)];
    ++unwritten_journaled_[index_of(journaled)];
}

void JobTable::release(Job& job) {
    ZQ_ASSERT(is_terminal(job.record.state), "a job released from the table has ended");
    ++history_[index_of(job.record.state)];
    forget(job);
}

void JobTable::drop(Job& job) { forget(job); }

void JobTable::forget(Job& job) {
    ZQ_ASSERT(find(job.record.id) == &job, "a job forgotten is held by the table");
    ZQ_ASSERT(held_[index_of(job.record.state)] > 0, "the count of a forgotten job's state is not zero");
    --held_[index_of(job.record.state)];
    if (job.journaled_state) {
        --unwritten_held_[index_of(job.record.state)];
        --unwritten_journaled_[index_of(*job.journaled_state)];
    }
    jobs_.erase(job.record.id);
}

void JobTable::recount(const std::map<JobState, std::uint64_t>& journal_counts) {
    history_.fill(0);
    // A held job whose change the journal lost with a failed commit may count more here than
    // there; the history never goes below zero for it.
    for (auto& [state, count] : journal_counts) {
        std::uint64_t held = held_[index_of(state)];
        history_[index_of(state)] = count > held ? count - held : 0;
    }
}

StateCounts JobTable::counts() const {
    StateCounts total{};
    for (std::size_t i = 0; i < total.size(); ++i) {
        total[i] = held_[i] + history_[i] + unwritten_journaled_[i] - unwritten_held_[i];
    }
    return total;
}

bool JobTable::counts_match_states() const {
    StateCounts states{};
    for (const auto& [id, job] : jobs_) ++states[index_of(job->record.state)];
    return states == held_;
}

}  // namespace zq::node
