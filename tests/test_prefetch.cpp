// Prefetch and work stealing: while the queue is deep (enough jobs to fill every worker's
// prefetch) a worker holds several tasks, but no
// task waits behind a long one while another worker is free, a task waits at a worker no
// longer than prefetch_wait, and `prefetch = 1` opts a task or a queue out.
#include "support/node_process.hpp"

#include <zq/client.hpp>

#include <catch2/catch.hpp>

#include <signal.h>

#include <string>
#include <vector>

using namespace zq::test;

namespace {

// Posts `count` zq.noop submissions in one burst (pipelined), and returns their ids once the
// node has accepted them all.
std::vector<std::string> post_noops(zq::Client& client, int count) {
    std::vector<std::string> ids;
    for (int i = 0; i < count; ++i) {
        zq::Task task("zq.noop");
        task.id = zq::new_job_id();
        REQUIRE(client.post(task, false));
        ids.push_back(task.id);
    }
    for (int accepted = 0; accepted < count;) {
        auto reply = client.next_reply(kDeadline);
        REQUIRE(reply);
        REQUIRE(std::holds_alternative<zq::Accepted>(*reply));
        ++accepted;
    }
    return ids;
}

// The number of tasks the worker with this pid holds (its `qsize` in status).
std::uint64_t held_by(NodeProcess& node, int pid) {
    auto status = node.status();
    for (const auto& worker : status["workers"]) {
        if (worker["pid"] == pid) return worker["qsize"].get<std::uint64_t>();
    }
    return 0;
}

std::string state_of(zq::Client& client, const std::string& id) {
    auto job = client.status(id);
    REQUIRE(job);
    return std::string(zq::to_string(job->state));
}

// A node whose first worker runs zq.sleep 60: where every case below starts.
struct BusyNode {
    NodeProcess node;
    zq::Client client;
    RunningJob long_job;

    BusyNode(std::string name, std::string config, unsigned workers)
        : node({.name = std::move(name), .config = std::move(config), .min_workers = workers, .max_workers = workers}),
          client(node.endpoint()), long_job(occupy_worker(node, client)) {}
};

}  // namespace

TEST_CASE("a short task is not held behind a long one on a busy worker while another worker is free") {
    // prefetch_wait is long, so only an idle worker's stealing can free the short tasks.
    BusyNode busy("steal", "prefetch = 16\nprefetch_wait = 600\n", 2);
    auto& [node, client, long_job] = busy;

    // Both workers are handed tasks: the one running the long task holds some behind it.
    auto ids = post_noops(client, 200);
    require_all_succeeded(client, ids);
    CHECK(state_of(client, long_job.id) == "running");
    CHECK(held_by(node, long_job.worker) == 1);
}

namespace {

// One worker busy with a long task, then five no-op tasks: how many does it hold, and are the
// others queued at the node? The long task is canceled at the end and every no-op succeeds.
void check_holding(const std::string& config, std::uint64_t held, std::size_t first_queued) {
    BusyNode busy("holding", config, 1);
    auto& [node, client, long_job] = busy;
    auto ids = post_noops(client, 5);
    CHECK(wait_until([&] { return held_by(node, long_job.worker) == held; }));
    for (std::size_t i = 0; i < ids.size(); ++i) {
        CHECK(state_of(client, ids[i]) == (i < first_queued ? "running" : "queued"));
    }
    REQUIRE(client.cancel(long_job.id));
    require_all_succeeded(client, ids);
}

}  // namespace

TEST_CASE("a worker holds several tasks while the queue is deep, and prefetch = 1 opts a task out") {
    const std::string node_settings = "prefetch = 4\nprefetch_wait = 600\n";
    SECTION("a deep queue: tasks wait at the busy worker, up to prefetch") {
        check_holding(node_settings, 4, 3);
    }
    SECTION("[tasks.NAME] prefetch = 1: the tasks stay queued at the node") {
        check_holding(node_settings + "[tasks.\"zq.noop\"]\nprefetch = 1\n", 1, 0);
    }
    SECTION("[queue.NAME] prefetch = 1 does the same for a queue") {
        check_holding(node_settings + "[queue.default]\nprefetch = 1\n", 1, 0);
    }
}

TEST_CASE("a task held behind a long one past prefetch_wait is taken back and queued again") {
    BusyNode busy("bound", "prefetch = 2\nprefetch_wait = 1\n", 1);
    auto& [node, client, long_job] = busy;
    auto ids = post_noops(client, 3);
    // Handed to the busy worker, then given back: queued at the node, not lost, not run.
    CHECK(held_by(node, long_job.worker) == 2);
    CHECK(wait_until([&] { return state_of(client, ids.front()) == "queued"; }));
    CHECK(held_by(node, long_job.worker) == 1);
    auto status = node.status();
    CHECK(status["jobs"]["succeeded"] == 0);
    REQUIRE(client.cancel(long_job.id));
    require_all_succeeded(client, ids);
}

TEST_CASE("a cancel of a task a worker holds but has not started ends it canceled without running") {
    BusyNode busy("cancel-held", "prefetch = 2\nprefetch_wait = 600\n", 1);
    auto& [node, client, long_job] = busy;
    auto ids = post_noops(client, 2);
    REQUIRE(wait_until([&] { return held_by(node, long_job.worker) == 2; }));
    REQUIRE(client.cancel(ids.front()));
    auto job = client.wait(ids.front(), kDeadline);
    REQUIRE(job);
    CHECK(job->state == zq::JobState::canceled);
    CHECK_THAT(job->error, Catch::Contains("before it ran"));
    CHECK(state_of(client, long_job.id) == "running");
    REQUIRE(client.cancel(long_job.id));
    require_all_succeeded(client, {ids.back()});
}

TEST_CASE("a worker killed while holding tasks ends only the running one in error and the others run elsewhere") {
    BusyNode busy("kill-held", "prefetch = 4\nprefetch_wait = 600\n", 1);
    auto& [node, client, long_job] = busy;
    auto ids = post_noops(client, 4);
    REQUIRE(wait_until([&] { return held_by(node, long_job.worker) == 4; }));
    ::kill(long_job.worker, SIGKILL);
    auto job = client.wait(long_job.id, kDeadline);
    REQUIRE(job);
    CHECK(job->state == zq::JobState::error);
    CHECK_THAT(job->error, Catch::Contains("SIGKILL"));
    require_all_succeeded(client, ids);
}

TEST_CASE("cancels that race a worker starting its task leave the worker's link in step") {
    NodeProcess node({.name = "race", .min_workers = 1, .max_workers = 1});
    zq::Client client(node.endpoint());
    // Each cancel reaches the worker just after its RUN: the worker either hands the task back
    // unrun or is asked to stop it. Either way the job ends, and the link stays in step.
    for (int round = 0; round < 30; ++round) {
        auto submitted = client.submit(zq::Task("zq.sleep").with_args(0.2));
        REQUIRE(submitted);
        REQUIRE(client.cancel(submitted->id));
        auto job = client.wait(submitted->id, kDeadline);
        REQUIRE(job);
        CHECK((job->state == zq::JobState::canceled || job->state == zq::JobState::succeeded));
    }
    auto ids = post_noops(client, 50);
    require_all_succeeded(client, ids);
    CHECK_THAT(node.log(), !Catch::Contains("which is not the one it runs") &&
                               !Catch::Contains("not the next one it holds") && !Catch::Contains("SIGKILL"));
}
