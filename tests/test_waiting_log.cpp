// The log of waiting jobs: one line per reason per interval, however many jobs wait.
#include "waiting_log.hpp"

#include "support/cluster.hpp"

#include <catch2/catch.hpp>

#include <sstream>
#include <string>

using zq::node::WaitingLog;

TEST_CASE("a thousand jobs waiting for one reason make one line, and one summary after the interval") {
    WaitingLog log(10'000);
    int lines = 0;
    for (int i = 0; i < 1000; ++i) {
        if (log.note("job-" + std::to_string(i), "build", "no capacity for queue build: b lost", 1'000 + i)) ++lines;
    }
    CHECK(lines == 1);
    CHECK(log.due(5'000).empty());  // the interval has not ended
    auto summary = log.due(11'000);
    REQUIRE(summary.size() == 1);
    CHECK(summary[0] == "999 more jobs waiting: no capacity for queue build: b lost");
    CHECK(log.due(12'000).empty());
    // Quiet for an interval: forgotten, and a job that waits for it again is logged at once.
    CHECK(log.due(22'000).empty());
    CHECK(log.reasons() == 0);
    CHECK(log.note("job-x", "build", "no capacity for queue build: b lost", 23'000));
}

TEST_CASE("each reason has its own interval, and a line after the interval says how many it covers") {
    WaitingLog log(1'000);
    CHECK(log.note("a", "t", "reason one", 0));
    CHECK(log.note("b", "t", "reason two", 0));
    CHECK_FALSE(log.note("c", "t", "reason one", 10));
    CHECK_FALSE(log.note("d", "t", "reason one", 20));
    auto line = log.note("e", "t", "reason one", 1'500);
    REQUIRE(line);
    CHECK(*line == "job e (t) waiting: reason one (and 2 more jobs since the last line)");
}

TEST_CASE("the reasons remembered are bounded; reasons beyond the bound are each logged") {
    WaitingLog log(10'000, 4);
    int lines = 0;
    for (int i = 0; i < 100; ++i) {
        if (log.note("job", "t", "queue q" + std::to_string(i) + " is served by no node", 0)) ++lines;
    }
    CHECK(lines == 100);
    CHECK(log.reasons() == 4);
}

TEST_CASE("a node with a thousand waiting jobs logs a few lines when their reason changes, not a thousand") {
    using namespace zq::test;
    // b serves queue build with one worker, kept busy; a does not serve build. So a's jobs on
    // build wait ("b busy"), then, when b is killed, wait for another reason ("b lost").
    NodeProcess b({.name = "b", .config = kFastHeartbeats, .min_workers = 1, .max_workers = 1,
                   .extra_args = {"--queues", "build"}});
    NodeProcess a({.name = "a", .config = kFastHeartbeats, .min_workers = 1, .max_workers = 1,
                   .extra_args = {"--peer", b.endpoint()}});
    REQUIRE(wait_until([&] { return sees_alive(a, "b"); }));
    zq::Client at_b(b.endpoint());
    zq::Task sleeper("zq.sleep");
    sleeper.with_args(60).on_queue("build");
    REQUIRE(at_b.submit(sleeper));
    REQUIRE(wait_until([&] { return b.status()["pool"]["busy"] == 1; }));
    REQUIRE(wait_until([&] { return !sees_capacity(a, "b"); }));

    constexpr int kJobs = 1000;
    zq::Client client(a.endpoint());
    for (int i = 0; i < kJobs; ++i) {
        zq::Task task("zq.noop");
        task.on_queue("build");
        REQUIRE(client.post(task, false));
    }
    for (int i = 0; i < kJobs; ++i) REQUIRE(client.next_reply(kDeadline));
    auto waiting_for = [&](const std::string& words) {
        auto waiting = a.status()["waiting"];
        if (waiting.size() != kJobs) return false;
        for (const auto& job : waiting) {
            if (job["reason"].get<std::string>().find(words) == std::string::npos) return false;
        }
        return true;
    };
    REQUIRE(wait_until([&] { return waiting_for("b busy"); }));
    b.kill_hard();
    REQUIRE(wait_until([&] { return waiting_for("b lost"); }));

    // Two reasons, each one line at once and one summary at most: far fewer than 2,000.
    std::stringstream log(a.log());
    int lines = 0;
    for (std::string line; std::getline(log, line);) {
        if (line.find("waiting: no capacity for queue build") != std::string::npos) ++lines;
    }
    INFO(a.log().substr(0, 4000));
    CHECK(lines >= 2);
    CHECK(lines <= 6);
    CHECK(a.log().size() < 64 * 1024);
}
