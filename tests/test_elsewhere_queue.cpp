// The jobs only another node may run, without a node: kept in arrival order, each with the
// reason it waits, and a reason worth logging only when it changes.
#include "elsewhere_queue.hpp"

#include <catch2/catch.hpp>

#include <deque>

using zq::JobState;
using zq::node::ElsewhereQueue;
using zq::node::Job;

namespace {

Job& make(std::deque<Job>& jobs, const std::string& id, JobState state = JobState::queued) {
    Job& job = jobs.emplace_back();
    job.record.id = id;
    job.record.state = state;
    return job;
}

}  // namespace

TEST_CASE("jobs for other nodes are kept in arrival order until they are removed") {
    std::deque<Job> jobs;
    ElsewhereQueue queue;
    Job& a = make(jobs, "a");
    Job& b = make(jobs, "b");
    Job& c = make(jobs, "c");
    queue.add(a);
    queue.add(b);
    queue.add(c);
    CHECK(queue.jobs() == std::vector<Job*>{&a, &b, &c});
    CHECK(queue.remove(b));
    CHECK_FALSE(queue.remove(b));
    CHECK_FALSE(queue.contains(b));
    CHECK(queue.jobs() == std::vector<Job*>{&a, &c});
    CHECK(queue.size() == 2);
}

TEST_CASE("a wait reason is news only when it changes, and status lists the waiting jobs with theirs") {
    std::deque<Job> jobs;
    ElsewhereQueue queue;
    Job& waiting = make(jobs, "w", JobState::waiting);
    Job& queued = make(jobs, "q");
    queue.add(waiting);
    queue.add(queued);
    CHECK(queue.set_reason(waiting, "no capacity for queue build: b lost"));
    CHECK_FALSE(queue.set_reason(waiting, "no capacity for queue build: b lost"));
    CHECK(queue.set_reason(waiting, "no capacity for queue build: b busy (0 free)"));

    // A queued job not yet placed is not waiting.
    auto listed = queue.waiting();
    REQUIRE(listed.size() == 1);
    CHECK(listed[0].first == "w");
    CHECK(listed[0].second == "no capacity for queue build: b busy (0 free)");

    // A job that leaves and comes back starts without a reason.
    queue.remove(waiting);
    queue.add(waiting);
    CHECK(queue.set_reason(waiting, "no capacity for queue build: b busy (0 free)"));
}
