// The ready queue without a node: highest priority first, first come first served within a
// priority, and a job put back keeps its place at the front.
#include "ready_queue.hpp"

#include <catch2/catch.hpp>

#include <deque>

using zq::node::Job;
using zq::node::ReadyQueue;

namespace {

// Jobs live in a deque so that their addresses stay put while the test adds more.
Job& make(std::deque<Job>& jobs, const std::string& id, std::int64_t priority = 0) {
    Job& job = jobs.emplace_back();
    job.record.id = id;
    job.record.priority = priority;
    return job;
}

std::vector<std::string> drain(ReadyQueue& queue) {
    std::vector<std::string> ids;
    while (Job* job = queue.pop()) ids.push_back(job->record.id);
    return ids;
}

}  // namespace

TEST_CASE("jobs pop by priority, highest first, and in arrival order within a priority") {
    std::deque<Job> jobs;
    ReadyQueue queue;
    queue.push(make(jobs, "low-1", -1));
    queue.push(make(jobs, "normal-1"));
    queue.push(make(jobs, "high-1", 5));
    queue.push(make(jobs, "normal-2"));
    queue.push(make(jobs, "high-2", 5));
    CHECK(queue.size() == 5);
    // front() shows the next job and leaves it queued.
    CHECK(queue.front()->record.id == "high-1");
    CHECK(queue.size() == 5);
    CHECK(drain(queue) == std::vector<std::string>{"high-1", "high-2", "normal-1", "normal-2", "low-1"});
    CHECK(queue.empty());
    CHECK(queue.front() == nullptr);
    CHECK(queue.pop() == nullptr);
}

TEST_CASE("a job put back goes before the others of its priority, not before higher ones") {
    std::deque<Job> jobs;
    ReadyQueue queue;
    queue.push(make(jobs, "high", 1));
    queue.push(make(jobs, "first"));
    queue.push(make(jobs, "second"));
    Job* high = queue.pop();
    Job* first = queue.pop();
    queue.push_front(*first);
    queue.push_front(*high);
    CHECK(drain(queue) == std::vector<std::string>{"high", "first", "second"});
}

TEST_CASE("remove takes a job out from the middle and says whether it was there") {
    std::deque<Job> jobs;
    ReadyQueue queue;
    Job& a = make(jobs, "a");
    Job& b = make(jobs, "b", 2);
    Job& c = make(jobs, "c");
    Job& stranger = make(jobs, "stranger");
    queue.push(a);
    queue.push(b);
    queue.push(c);
    CHECK(queue.remove(b));
    CHECK_FALSE(queue.contains(b));
    CHECK_FALSE(queue.remove(b));
    CHECK_FALSE(queue.remove(stranger));
    CHECK(queue.contains(a));
    CHECK(queue.size() == 2);
    CHECK(drain(queue) == std::vector<std::string>{"a", "c"});
}

TEST_CASE("visit walks the jobs in pop order and stops when told to") {
    std::deque<Job> jobs;
    ReadyQueue queue;
    queue.push(make(jobs, "b"));
    queue.push(make(jobs, "a", 3));
    queue.push(make(jobs, "c"));
    std::vector<std::string> seen;
    queue.visit([&seen](Job& job) {
        seen.push_back(job.record.id);
        return seen.size() < 2;
    });
    CHECK(seen == std::vector<std::string>{"a", "b"});
    CHECK(queue.size() == 3);
}
