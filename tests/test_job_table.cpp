// The job table without a node: the counts by state follow every change of a held job, and
// a job forgotten leaves the history counted as the journal keeps it.
#include "job_table.hpp"

#include <catch2/catch.hpp>

#include <algorithm>

using zq::JobState;
using zq::node::JobRecord;
using zq::node::JobTable;

namespace {

JobRecord record(const std::string& id, JobState state = JobState::queued) {
    return JobRecord{.id = id, .task = "t", .state = state};
}

std::uint64_t count(const JobTable& table, JobState state) { return table.counts()[static_cast<std::size_t>(state)]; }

}  // namespace

TEST_CASE("a job added is held, found by id and counted in its state") {
    JobTable table;
    auto& job = table.add(record("a"));
    table.add(record("b", JobState::running));
    CHECK(table.size() == 2);
    CHECK(table.find("a") == &job);
    CHECK(table.find("z") == nullptr);
    CHECK(count(table, JobState::queued) == 1);
    CHECK(count(table, JobState::running) == 1);
    CHECK(table.counts_match_states());
}

TEST_CASE("set_state moves one count from the old state to the new one") {
    JobTable table;
    auto& job = table.add(record("a"));
    table.set_state(job, JobState::running);
    CHECK(job.record.state == JobState::running);
    CHECK(count(table, JobState::queued) == 0);
    CHECK(count(table, JobState::running) == 1);
    table.set_state(job, JobState::succeeded);
    CHECK(count(table, JobState::running) == 0);
    CHECK(count(table, JobState::succeeded) == 1);
    CHECK(table.counts_match_states());
}

TEST_CASE("a finished job released stays counted, a dropped one is counted no more") {
    JobTable table;
    auto& done = table.add(record("done"));
    table.add(record("lost"));
    table.set_state(done, JobState::failed);
    table.release(done);
    CHECK(table.find("done") == nullptr);
    CHECK(count(table, JobState::failed) == 1);

    table.drop(*table.find("lost"));
    CHECK(table.size() == 0);
    CHECK(count(table, JobState::queued) == 0);
    CHECK(table.counts_match_states());
}

TEST_CASE("the journal's counts leave out the jobs the table holds, so none is counted twice") {
    JobTable table;
    // At start-up the unfinished jobs are held first, then the journal is counted.
    auto& resumed = table.add(record("resumed"));
    table.add(record("running", JobState::running));
    table.recount({{JobState::queued, 3}, {JobState::running, 1}, {JobState::succeeded, 40}});
    CHECK(count(table, JobState::queued) == 3);
    CHECK(count(table, JobState::running) == 1);
    CHECK(count(table, JobState::succeeded) == 40);

    table.set_state(resumed, JobState::succeeded);
    table.release(resumed);
    CHECK(count(table, JobState::queued) == 2);
    CHECK(count(table, JobState::succeeded) == 41);

    // A held state the journal lost (a failed commit) never makes the history negative.
    table.recount({{JobState::succeeded, 41}});
    CHECK(count(table, JobState::running) == 1);
    CHECK(count(table, JobState::queued) == 0);
}

TEST_CASE("a job whose state is written behind the table's back is caught by the counts check") {
    JobTable table;
    auto& job = table.add(record("a"));
    job.record.state = JobState::running;
    CHECK_FALSE(table.counts_match_states());
    job.record.state = JobState::queued;
    CHECK(table.counts_match_states());
}

TEST_CASE("for_each visits every held job once") {
    JobTable table;
    for (const char* id : {"a", "b", "c"}) table.add(record(id));
    std::vector<std::string> seen;
    table.for_each([&seen](const zq::node::Job& job) { seen.push_back(job.record.id); });
    std::sort(seen.begin(), seen.end());
    CHECK(seen == std::vector<std::string>{"a", "b", "c"});
}

TEST_CASE("a job whose outcome a failed commit lost counts in the journal's state until it is released") {
    JobTable table;
    auto& job = table.add(record("a", JobState::running));
    table.set_state(job, JobState::succeeded);
    table.outcome_unwritten(job, JobState::running);
    table.outcome_unwritten(job, JobState::queued);  // a second failed commit changes nothing
    CHECK(job.journaled_state == JobState::running);
    CHECK(count(table, JobState::running) == 1);
    CHECK(count(table, JobState::succeeded) == 0);
    CHECK(table.counts_match_states());
    // Written at last: released, it counts as the journal now has it.
    table.release(job);
    CHECK(count(table, JobState::running) == 0);
    CHECK(count(table, JobState::succeeded) == 1);
}
