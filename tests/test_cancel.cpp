// Canceling running jobs: the task is asked to stop (SIGUSR1), exec commands get SIGTERM on
// their process group, and a task that ignores the request is killed after cancel_grace.
#include "support/node_process.hpp"

#include <zq/client.hpp>

#include <catch2/catch.hpp>

#include <chrono>

using namespace zq::test;
using zq::Client;
using zq::JobState;
using zq::Task;

TEST_CASE("a running task that honours the cancel ends canceled and its worker lives on") {
    NodeProcess node({.min_workers = 1, .max_workers = 1});
    Client client(node.endpoint());
    auto [id, worker] = occupy_worker(node, client);

    auto requested = client.cancel(id);
    REQUIRE(requested);
    auto job = client.wait(id, kDeadline);
    REQUIRE(job);
    CHECK(job->state == JobState::canceled);
    CHECK(node.worker_pids() == std::vector<int>{worker});
}

TEST_CASE("a running task that ignores the cancel is killed after cancel_grace and its worker replaced") {
    NodeProcess node({.config = "cancel_grace = 1\n", .min_workers = 1, .max_workers = 1});
    Client client(node.endpoint());
    auto submitted = client.submit(Task("zq.hang").with_args(60));
    REQUIRE(submitted);
    int worker = node.worker_running(submitted->id);
    REQUIRE(worker > 0);

    auto started = std::chrono::steady_clock::now();
    REQUIRE(client.cancel(submitted->id));
    auto job = client.wait(submitted->id, kDeadline);
    auto took = std::chrono::steady_clock::now() - started;
    REQUIRE(job);
    CHECK(job->state == JobState::canceled);
    CHECK_THAT(job->error, Catch::Contains("signal 9"));
    CHECK(took >= std::chrono::milliseconds(900));
    REQUIRE(wait_until([&] {
        auto pids = node.worker_pids();
        return pids.size() == 1 && pids[0] != worker;
    }));
}

TEST_CASE("canceling a running exec task stops its command through its process group") {
    NodeProcess node({.config = "[tasks.nap]\ncommand = [\"/bin/sleep\"]\n", .min_workers = 1, .max_workers = 1});
    Client client(node.endpoint());
    auto submitted = client.submit(Task("nap").with_args(60));
    REQUIRE(submitted);
    int worker = node.worker_running(submitted->id);
    REQUIRE(worker > 0);
    std::vector<int> command;
    REQUIRE(wait_until([&] { return !(command = child_pids(worker)).empty(); }));

    REQUIRE(client.cancel(submitted->id));
    auto job = client.wait(submitted->id, kDeadline);
    REQUIRE(job);
    CHECK(job->state == JobState::canceled);
    CHECK_THAT(job->error, Catch::Contains("SIGTERM"));
    CHECK(wait_until([&] { return !process_alive(command[0]); }));
    CHECK(node.worker_pids() == std::vector<int>{worker});
}

TEST_CASE("canceling a finished job changes nothing") {
    NodeProcess node;
    Client client(node.endpoint());
    auto submitted = client.submit(Task("zq.noop"));
    REQUIRE(submitted);
    REQUIRE(client.wait(submitted->id, kDeadline));
    auto after = client.cancel(submitted->id);
    REQUIRE(after);
    CHECK(after->state == JobState::succeeded);
    auto job = client.status(submitted->id);
    REQUIRE(job);
    CHECK(job->state == JobState::succeeded);
}
