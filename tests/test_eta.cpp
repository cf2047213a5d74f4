// ETA and countdown: a job waits `scheduled`, journaled, until its time, runs soon after it
// and never before, keeps its time across a SIGKILL of its node and across nodes, and a
// cancel before its time ends it without running.
#include "support/node_process.hpp"

#include <zq/client.hpp>
#include <zq/json.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <csignal>
#include <fstream>
#include <memory>

using namespace zq::test;
using zq::Client;
using zq::JobState;
using zq::Task;

namespace {

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// An exec task `stamp` that writes the unix ms at which it ran into the file named by its
// argument (one line per run).
std::string stamp_config() {
    return "[tasks.stamp]\ncommand = [\"/bin/sh\", \"-c\", \"date +%s%3N >> \\\"$0\\\"\"]\n";
}

std::vector<std::int64_t> stamps(const std::string& path) {
    std::ifstream file(path);
    std::vector<std::int64_t> times;
    for (std::int64_t ms; file >> ms;) times.push_back(ms);
    return times;
}

// The job ran once, within 1 s after its ETA and not before.
void require_ran_once_soon_after(const std::string& file, std::int64_t eta) {
    auto runs = stamps(file);
    REQUIRE(runs.size() == 1);
    CHECK(runs[0] >= eta);
    CHECK(runs[0] <= eta + 1000);
}

}  // namespace

TEST_CASE("a job with an ETA is scheduled until its time, then runs within 1 s after it and not before") {
    NodeProcess node({.config = stamp_config(), .min_workers = 1, .max_workers = 1});
    Client client(node.endpoint());
    TempDir out;
    const std::string file = out.path() + "/runs";
    const std::int64_t eta = now_ms() + 2000;
    Task task("stamp");
    task.with_args(file);
    task.eta_ms = eta;
    auto submitted = client.submit(task);
    REQUIRE(submitted);
    CHECK(submitted->state == JobState::scheduled);

    auto status = client.status(submitted->id);
    REQUIRE(status);
    CHECK(status->state == JobState::scheduled);
    CHECK(status->eta_ms == eta);
    CHECK(node.status()["jobs"]["scheduled"] == 1);

    auto job = client.wait(submitted->id, kDeadline);
    REQUIRE(job);
    CHECK(job->state == JobState::succeeded);
    require_ran_once_soon_after(file, eta);
}

TEST_CASE("an ETA job survives a SIGKILL and restart of its node, and runs within 1 s after its time") {
    NodeProcess node({.config = stamp_config(), .min_workers = 1, .max_workers = 1});
    TempDir out;
    const std::string file = out.path() + "/runs";
    const std::int64_t eta = now_ms() + 3000;
    std::string id;
    {
        Client client(node.endpoint());
        auto submitted = client.submit(Task("stamp").with_args(file).at(
            std::chrono::system_clock::time_point(std::chrono::milliseconds(eta))));
        REQUIRE(submitted);
        id = submitted->id;
    }
    node.kill_hard();
    node.start();
    Client client(node.endpoint());
    auto status = client.status(id);
    REQUIRE(status);
    CHECK(status->state == JobState::scheduled);
    CHECK(status->eta_ms == eta);

    auto job = client.wait(id, kDeadline);
    REQUIRE(job);
    CHECK(job->state == JobState::succeeded);
    require_ran_once_soon_after(file, eta);
}

TEST_CASE("a job canceled before its ETA ends canceled without running") {
    NodeProcess node({.config = stamp_config(), .min_workers = 1, .max_workers = 1});
    Client client(node.endpoint());
    TempDir out;
    const std::string file = out.path() + "/runs";
    auto submitted = client.submit(Task("stamp").with_args(file).after(30));
    REQUIRE(submitted);
    auto canceled = client.cancel(submitted->id);
    REQUIRE(canceled);
    auto job = client.wait(submitted->id, kDeadline);
    REQUIRE(job);
    CHECK(job->state == JobState::canceled);
    CHECK(stamps(file).empty());
    CHECK(node.status()["jobs"]["scheduled"] == 0);
}

TEST_CASE("a job with an ETA placed on another node keeps its time there") {
    NodeOptions b_options{.name = "b", .config = "heartbeat_interval = 0.2\n" + stamp_config(), .min_workers = 1,
                          .max_workers = 1};
    b_options.extra_args = {"--queues", "qb"};
    NodeProcess b(b_options);
    NodeOptions a_options{.name = "a", .config = "heartbeat_interval = 0.2\n", .min_workers = 1, .max_workers = 1};
    a_options.extra_args = {"--queues", "qa", "--peer", b.endpoint()};
    NodeProcess a(a_options);
    REQUIRE(wait_until([&] {
        Client client(a.endpoint());
        auto peers = client.control("peers");
        if (!peers) return false;
        for (const auto& peer : zq::packed_to_json(*peers)) {
            if (peer["name"] == "b" && peer["state"] == "alive") return true;
        }
        return false;
    }));
    TempDir out;
    const std::string file = out.path() + "/runs";
    const std::int64_t eta = now_ms() + 2000;
    Task task("stamp");
    task.with_args(file);
    task.queue = "qb";
    task.eta_ms = eta;
    Client client(a.endpoint());
    auto submitted = client.submit(task);
    REQUIRE(submitted);
    auto job = client.wait(submitted->id, kDeadline);
    REQUIRE(job);
    CHECK(job->state == JobState::succeeded);
    CHECK(job->node == "b");
    require_ran_once_soon_after(file, eta);
}
