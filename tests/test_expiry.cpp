// Expiry: a job that has not started by its expiry ends `expired`, unrun, saying when: while
// it waits in the queue, while it waits for a target that is offline, at a restart of its
// node, and when it arrives already expired.
#include "support/node_process.hpp"

#include <zq/client.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>

using namespace zq::test;
using zq::Client;
using zq::JobState;
using zq::Task;

namespace {

// An exec task `touch` that creates the file named by its argument: if it exists, it ran.
constexpr const char* kTouchConfig = "[tasks.touch]\ncommand = [\"/usr/bin/touch\"]\n";

void require_expired_unrun(Client& client, const std::string& id, const std::string& file) {
    auto job = client.wait(id, kDeadline);
    REQUIRE(job);
    CHECK(job->state == JobState::expired);
    CHECK_THAT(job->error, Catch::StartsWith("expired at ") && Catch::Contains("before it started"));
    CHECK(job->attempts == 0);
    CHECK_FALSE(std::filesystem::exists(file));
}

}  // namespace

TEST_CASE("a job that arrives already expired ends expired without running") {
    NodeProcess node({.config = kTouchConfig, .min_workers = 1, .max_workers = 1});
    Client client(node.endpoint());
    TempDir out;
    const std::string file = out.path() + "/ran";
    auto submitted = client.submit(Task("touch").with_args(file).expires_after(-1));
    REQUIRE(submitted);
    require_expired_unrun(client, submitted->id, file);
    CHECK(node.status()["jobs"]["expired"] == 1);
}

TEST_CASE("a queued job whose expiry passes while every worker is busy never runs") {
    NodeProcess node({.config = kTouchConfig, .min_workers = 1, .max_workers = 1});
    Client client(node.endpoint());
    auto busy = occupy_worker(node, client);
    TempDir out;
    const std::string file = out.path() + "/ran";
    auto submitted = client.submit(Task("touch").with_args(file).expires_after(1));
    REQUIRE(submitted);
    auto status = client.status(submitted->id);
    REQUIRE(status);
    CHECK(status->state == JobState::queued);
    CHECK(status->expires_ms > 0);
    require_expired_unrun(client, submitted->id, file);
    // The worker comes free afterwards: the expired job still does not run.
    REQUIRE(client.cancel(busy.id));
    REQUIRE(client.wait(busy.id, kDeadline));
    auto after = client.submit(Task("zq.noop"));
    REQUIRE(after);
    REQUIRE(client.wait(after->id, kDeadline));
    CHECK_FALSE(std::filesystem::exists(file));
}

TEST_CASE("a job waiting for an offline target expires unrun") {
    NodeProcess node({.config = kTouchConfig, .min_workers = 1, .max_workers = 1});
    Client client(node.endpoint());
    TempDir out;
    const std::string file = out.path() + "/ran";
    Task task("touch");
    task.with_args(file).expires_after(1);
    task.target = "offline-node";
    auto submitted = client.submit(task);
    REQUIRE(submitted);
    REQUIRE(wait_until([&] {
        auto job = client.status(submitted->id);
        return job && job->state == JobState::waiting;
    }));
    require_expired_unrun(client, submitted->id, file);
}

TEST_CASE("a queued job whose expiry passes while its node is down expires at the restart, unrun") {
    NodeProcess node({.config = kTouchConfig, .min_workers = 1, .max_workers = 1});
    TempDir out;
    const std::string file = out.path() + "/ran";
    std::string id;
    std::int64_t expires = 0;
    {
        Client client(node.endpoint());
        occupy_worker(node, client);
        auto submitted = client.submit(Task("touch").with_args(file).expires_after(1.5));
        REQUIRE(submitted);
        id = submitted->id;
        auto status = client.status(id);
        REQUIRE(status);
        expires = status->expires_ms;
    }
    node.kill_hard();
    REQUIRE(wait_until([&] {
        return std::chrono::system_clock::now().time_since_epoch() > std::chrono::milliseconds(expires);
    }));
    node.start();
    Client client(node.endpoint());
    require_expired_unrun(client, id, file);
}
