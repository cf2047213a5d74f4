// The timetable with a clock the test turns: jobs come due in time order, and a job
// taken off the schedule never comes due.
#include "timetable.hpp"

#include <catch2/catch.hpp>

#include <deque>

using zq::node::Job;
using zq::node::Timetable;

namespace {

Job& make(std::deque<Job>& jobs, const std::string& id) {
    Job& job = jobs.emplace_back();
    job.record.id = id;
    return job;
}

std::vector<std::string> ids(const std::vector<Job*>& jobs) {
    std::vector<std::string> ids;
    for (const Job* job : jobs) ids.push_back(job->record.id);
    return ids;
}

}  // namespace

TEST_CASE("an empty schedule has nothing due and no next time") {
    Timetable schedule;
    CHECK_FALSE(schedule.next_due().has_value());
    CHECK(schedule.take_due(1'000'000).empty());
}

TEST_CASE("jobs come due at their time, earliest first, and the next due time follows") {
    std::deque<Job> jobs;
    Timetable schedule;
    schedule.add(make(jobs, "late"), 3000);
    schedule.add(make(jobs, "early"), 1000);
    schedule.add(make(jobs, "also-early"), 1000);
    CHECK(schedule.next_due() == 1000);

    CHECK(schedule.take_due(999).empty());
    CHECK(ids(schedule.take_due(1000)) == std::vector<std::string>{"early", "also-early"});
    CHECK(schedule.next_due() == 3000);
    CHECK(schedule.size() == 1);
    CHECK(ids(schedule.take_due(5000)) == std::vector<std::string>{"late"});
    CHECK_FALSE(schedule.next_due().has_value());
}

TEST_CASE("a job removed from the schedule (canceled) never comes due") {
    std::deque<Job> jobs;
    Timetable schedule;
    Job& canceled = make(jobs, "canceled");
    Job& kept = make(jobs, "kept");
    schedule.add(canceled, 100);
    schedule.add(kept, 200);
    CHECK(schedule.contains(canceled));
    CHECK(schedule.remove(canceled));
    CHECK_FALSE(schedule.remove(canceled));
    CHECK_FALSE(schedule.contains(canceled));
    CHECK(schedule.next_due() == 200);
    CHECK(ids(schedule.take_due(1000)) == std::vector<std::string>{"kept"});
}
