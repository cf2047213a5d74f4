// The log of waiting jobs: one line per reason per interval, however many jobs wait.
#include "waiting_log.hpp"

#include <catch2/catch.hpp>

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
