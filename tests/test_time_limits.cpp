// Time limits, per job (envelope) and per task name (config): the soft limit asks the task
// to stop like a cancel; the hard limit kills its worker, which is replaced.
#include "support/node_process.hpp"

#include <zq/client.hpp>

#include <catch2/catch.hpp>

using namespace zq::test;
using zq::Client;
using zq::JobState;
using zq::Task;

TEST_CASE("a task stopped by its soft time limit fails saying so and its worker lives on") {
    NodeProcess node({.min_workers = 1, .max_workers = 1});
    Client client(node.endpoint());
    Task task("zq.sleep");
    task.with_args(60);
    task.soft_time_limit = 0.5;
    auto submitted = client.submit(task);
    REQUIRE(submitted);
    int worker = node.worker_running(submitted->id);
    auto job = client.wait(submitted->id, kDeadline);
    REQUIRE(job);
    CHECK(job->state == JobState::failed);
    CHECK(job->error == "soft time limit (0.5s) exceeded");
    CHECK(node.worker_pids() == std::vector<int>{worker});
}

TEST_CASE("a task past its hard time limit is killed, fails saying so, and its worker is replaced") {
    NodeProcess node({.min_workers = 1, .max_workers = 1});
    Client client(node.endpoint());
    Task task("zq.hang");
    task.with_args(60);
    task.soft_time_limit = 0.3;  // ignored by zq.hang, so the hard limit decides
    task.hard_time_limit = 1;
    auto submitted = client.submit(task);
    REQUIRE(submitted);
    int worker = node.worker_running(submitted->id);
    REQUIRE(worker > 0);
    auto job = client.wait(submitted->id, kDeadline);
    REQUIRE(job);
    CHECK(job->state == JobState::failed);
    CHECK(job->error == "hard time limit (1s) exceeded");
    REQUIRE(wait_until([&] {
        auto pids = node.worker_pids();
        return pids.size() == 1 && pids[0] != worker;
    }));
}

TEST_CASE("time limits set per task name in the config apply to jobs that set none") {
    NodeProcess node({.config = "[tasks.\"zq.hang\"]\nhard_time_limit = 0.5\n", .min_workers = 1, .max_workers = 1});
    Client client(node.endpoint());
    auto submitted = client.submit(Task("zq.hang").with_args(60));
    REQUIRE(submitted);
    auto job = client.wait(submitted->id, kDeadline);
    REQUIRE(job);
    CHECK(job->state == JobState::failed);
    CHECK(job->error == "hard time limit (0.5s) exceeded");

    // Other tasks are not limited.
    auto other = client.submit(Task("zq.sleep").with_args(0.8));
    REQUIRE(other);
    auto done = client.wait(other->id, kDeadline);
    REQUIRE(done);
    CHECK(done->state == JobState::succeeded);
}

TEST_CASE("a failing task with retries runs again after its delay and ends failed after the last attempt") {
    NodeProcess node({.min_workers = 1, .max_workers = 1});
    Client client(node.endpoint());
    Task task("zq.fail");
    task.with_args(std::string("still broken"));
    task.max_retries = 2;
    task.retry_delay = 0.1;
    auto submitted = client.submit(task);
    REQUIRE(submitted);
    auto job = client.wait(submitted->id, kDeadline);
    REQUIRE(job);
    CHECK(job->state == JobState::failed);
    CHECK(job->error == "still broken");
    auto status = node.status();
    CHECK(status["workers"][0]["sent"] == 3);
}
