// The scheduler with a clock the test turns: ticks on the same instants on every node, job ids
// made from the schedule and the tick, what a restart fires again (nothing already fired; the
// latest missed tick with run_once, none with skip), what a reload changes, and what a failed
// commit takes back.
#include "scheduler.hpp"

#include <zq/time_text.hpp>

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using zq::node::MissedTicks;
using zq::node::ScheduleMark;
using zq::node::Scheduler;
using zq::node::Schedules;
using zq::node::ScheduleScope;
using zq::node::ScheduleSettings;
using zq::node::TickFiring;

namespace {

std::int64_t at(const std::string& text) {
    auto parsed = zq::parse_rfc3339(text);
    REQUIRE(parsed);
    return *parsed;
}

ScheduleSettings every(const std::string& name, const std::string& interval, MissedTicks missed = MissedTicks::run_once,
                       ScheduleScope scope = ScheduleScope::cluster) {
    ScheduleSettings settings;
    settings.name = name;
    settings.task = "report.build";
    settings.every_text = interval;
    auto parsed = zq::node::parse_every(interval);
    REQUIRE(parsed);
    settings.every = *parsed;
    settings.missed = missed;
    settings.scope = scope;
    return settings;
}

ScheduleSettings cron(const std::string& name, const std::string& expression, const std::string& zone = "UTC") {
    ScheduleSettings settings;
    settings.name = name;
    settings.task = "report.build";
    settings.cron_text = expression;
    auto parsed = zq::node::parse_cron(expression);
    REQUIRE(parsed);
    settings.cron = *parsed;
    auto found = zq::node::find_time_zone(zone);
    REQUIRE(found);
    settings.time_zone = *found;
    settings.time_zone_name = zone;
    return settings;
}

Schedules schedules(std::initializer_list<ScheduleSettings> list) {
    Schedules all;
    for (const auto& settings : list) all[settings.name] = settings;
    return all;
}

std::vector<std::string> ids(const std::vector<TickFiring>& firings) {
    std::vector<std::string> ids;
    for (const auto& firing : firings) ids.push_back(firing.task.id);
    return ids;
}

}  // namespace

TEST_CASE("a tick's job id names the schedule and the tick, and the node for scope node") {
    CHECK(zq::node::tick_job_id(every("cleanup", "30s"), at("2026-11-29T22:40:00Z"), "a") ==
          "sched:cleanup:2026-11-29T22:40:00Z");
    CHECK(zq::node::tick_job_id(every("cleanup", "30s", MissedTicks::skip, ScheduleScope::node),
                                at("2026-11-29T22:40:00Z"), "a") == "sched:cleanup:2026-11-29T22:40:00Z:a");
    CHECK(zq::node::tick_job_id(every("fast", "250ms"), at("2026-11-29T22:40:00.250Z"), "a") ==
          "sched:fast:2026-11-29T22:40:00.250Z");
}

TEST_CASE("every ticks on multiples of the interval since the epoch, so every node picks the same instants") {
    auto half_minute = every("x", "30s");
    CHECK(zq::node::next_tick_after(half_minute, at("2026-11-29T22:40:05Z")) == at("2026-11-29T22:40:30Z"));
    CHECK(zq::node::next_tick_after(half_minute, at("2026-11-29T22:40:30Z")) == at("2026-11-29T22:41:00Z"));
    auto seven_minutes = every("y", "7m");
    std::int64_t tick = *zq::node::next_tick_after(seven_minutes, at("2026-11-29T22:40:05Z"));
    CHECK(tick % (7 * 60 * 1000) == 0);
    CHECK(zq::node::latest_tick_between(half_minute, at("2026-11-29T22:40:00Z"), at("2026-11-29T22:41:10Z")) ==
          at("2026-11-29T22:41:00Z"));
    CHECK_FALSE(zq::node::latest_tick_between(half_minute, at("2026-11-29T22:41:00Z"), at("2026-11-29T22:41:10Z")));
}

TEST_CASE("a cron schedule ticks in its time zone") {
    auto berlin = cron("morning", "30 6 * * *", "Europe/Berlin");
    // 06:30 in Berlin is 05:30 UTC in winter.
    CHECK(zq::node::next_tick_after(berlin, at("2026-11-29T12:00:00Z")) == at("2026-11-30T05:30:00Z"));
    CHECK(zq::node::latest_tick_between(berlin, at("2026-11-01T00:00:00Z"), at("2026-11-29T12:00:00Z")) ==
          at("2026-11-29T05:30:00Z"));
    auto five_minutes = cron("often", "*/5 * * * *");
    CHECK(zq::node::latest_tick_between(five_minutes, at("2026-11-29T22:00:00Z"), at("2026-11-29T22:43:10Z")) ==
          at("2026-11-29T22:40:00Z"));
}

TEST_CASE("each tick fires once, at its time, and the next one follows") {
    Scheduler scheduler("a");
    auto started = scheduler.start(schedules({every("tick", "1s")}), {}, at("2026-11-29T22:40:00.300Z"));
    CHECK(started.catch_up.empty());
    CHECK(scheduler.next_due() == at("2026-11-29T22:40:01Z"));

    CHECK(scheduler.take_due(at("2026-11-29T22:40:00.999Z")).empty());
    auto fired = scheduler.take_due(at("2026-11-29T22:40:01.002Z"));
    REQUIRE(fired.size() == 1);
    CHECK(fired[0].task.id == "sched:tick:2026-11-29T22:40:01Z");
    CHECK(fired[0].task.name == "report.build");
    CHECK(fired[0].tick_ms == at("2026-11-29T22:40:01Z"));
    CHECK(scheduler.next_due() == at("2026-11-29T22:40:02Z"));
    CHECK(scheduler.take_due(at("2026-11-29T22:40:01.500Z")).empty());
    CHECK(ids(scheduler.take_due(at("2026-11-29T22:40:02Z"))) ==
          std::vector<std::string>{"sched:tick:2026-11-29T22:40:02Z"});
}

TEST_CASE("a timer that fires late fires the latest due tick once, not one job per tick it passed") {
    Scheduler scheduler("a");
    (void)scheduler.start(schedules({every("tick", "1s")}), {}, at("2026-11-29T22:40:00.300Z"));
    CHECK(ids(scheduler.take_due(at("2026-11-29T22:40:04.100Z"))) ==
          std::vector<std::string>{"sched:tick:2026-11-29T22:40:04Z"});
    CHECK(scheduler.next_due() == at("2026-11-29T22:40:05Z"));
}

TEST_CASE("a node-scoped tick runs on the node that fired it") {
    Scheduler scheduler("b");
    auto settings = every("local", "1s", MissedTicks::skip, ScheduleScope::node);
    settings.args = std::string("\x91\x01", 2);
    settings.queue = "maintenance";
    (void)scheduler.start(schedules({settings}), {}, at("2026-11-29T22:40:00Z"));
    auto fired = scheduler.take_due(at("2026-11-29T22:40:01Z"));
    REQUIRE(fired.size() == 1);
    CHECK(fired[0].task.id == "sched:local:2026-11-29T22:40:01Z:b");
    CHECK(fired[0].task.target == "b");
    CHECK(fired[0].task.queue == "maintenance");
    CHECK(fired[0].task.args == settings.args);
}

TEST_CASE("after a restart, run_once fires the latest missed tick only and skip fires none; neither repeats one") {
    Scheduler scheduler("a");
    std::vector<ScheduleMark> marks = {
        {"catch-up", at("2026-11-29T22:40:03Z"), "sched:catch-up:2026-11-29T22:40:03Z"},
        {"skipper", at("2026-11-29T22:40:03Z"), "sched:skipper:2026-11-29T22:40:03Z"},
        {"current", at("2026-11-29T22:40:10Z"), "sched:current:2026-11-29T22:40:10Z"},
    };
    auto started = scheduler.start(
        schedules({every("catch-up", "1s", MissedTicks::run_once), every("skipper", "1s", MissedTicks::skip),
                   every("current", "10s", MissedTicks::run_once)}),
        marks, at("2026-11-29T22:40:10.500Z"));
    // The node was down from after 22:40:03 to 22:40:10.5: ticks 04 to 10 were missed.
    CHECK(ids(started.catch_up) == std::vector<std::string>{"sched:catch-up:2026-11-29T22:40:10Z"});
    CHECK(started.forgotten.empty());
    auto views = scheduler.list();
    REQUIRE(views.size() == 3);
    CHECK(views[0].settings->name == "catch-up");
    CHECK(views[0].last_tick_ms == at("2026-11-29T22:40:10Z"));
    CHECK(views[0].next_tick_ms == at("2026-11-29T22:40:11Z"));
    CHECK(views[1].settings->name == "current");  // fired 22:40:10 before the restart: nothing missed
    CHECK(views[1].next_tick_ms == at("2026-11-29T22:40:20Z"));
    CHECK(views[2].settings->name == "skipper");
    CHECK(views[2].last_tick_ms == at("2026-11-29T22:40:03Z"));
    CHECK(views[2].last_job_id == "sched:skipper:2026-11-29T22:40:03Z");
    CHECK(views[2].next_tick_ms == at("2026-11-29T22:40:11Z"));
}

TEST_CASE("a schedule this node never fired starts with its next tick, and marks of removed schedules are dropped") {
    Scheduler scheduler("a");
    auto started = scheduler.start(schedules({every("new", "1s")}), {{"old", at("2026-11-29T22:00:00Z"), "x"}},
                                   at("2026-11-29T22:40:00.500Z"));
    CHECK(started.catch_up.empty());
    CHECK(started.forgotten == std::vector<std::string>{"old"});
    CHECK(scheduler.next_due() == at("2026-11-29T22:40:01Z"));
}

TEST_CASE("a mark ahead of the clock (set back) is never fired again") {
    Scheduler scheduler("a");
    (void)scheduler.start(schedules({every("tick", "1s")}), {{"tick", at("2026-11-29T22:40:05Z"), "x"}},
                          at("2026-11-29T22:40:01.500Z"));
    CHECK(scheduler.next_due() == at("2026-11-29T22:40:06Z"));
}

TEST_CASE("a reload starts added schedules, stops removed ones, and restarts the timing of changed ones") {
    Scheduler scheduler("a");
    (void)scheduler.start(schedules({every("kept", "1s"), every("changed", "1s"), every("removed", "1s")}), {},
                          at("2026-11-29T22:40:00.500Z"));
    CHECK(scheduler.take_due(at("2026-11-29T22:40:01Z")).size() == 3);

    auto changes =
        scheduler.reconfigure(schedules({every("kept", "1s"), every("changed", "10s"), every("added", "5s")}),
                              at("2026-11-29T22:40:01.200Z"));
    CHECK(changes.added == std::vector<std::string>{"added"});
    CHECK(changes.changed == std::vector<std::string>{"changed"});
    CHECK(changes.removed == std::vector<std::string>{"removed"});
    auto views = scheduler.list();
    REQUIRE(views.size() == 3);
    CHECK(views[0].settings->name == "added");
    CHECK_FALSE(views[0].last_tick_ms);
    CHECK(views[0].next_tick_ms == at("2026-11-29T22:40:05Z"));
    CHECK(views[1].settings->name == "changed");
    CHECK(views[1].last_tick_ms == at("2026-11-29T22:40:01Z"));  // its mark stays
    CHECK(views[1].next_tick_ms == at("2026-11-29T22:40:10Z"));
    CHECK(views[2].settings->name == "kept");
    CHECK(views[2].next_tick_ms == at("2026-11-29T22:40:02Z"));
    CHECK(ids(scheduler.take_due(at("2026-11-29T22:40:02Z"))) ==
          std::vector<std::string>{"sched:kept:2026-11-29T22:40:02Z"});
}

TEST_CASE("a changed schedule whose new timing includes the tick it fired last does not fire it again") {
    Scheduler scheduler("a");
    // Fired 22:40:10 (the clock was ahead then); changed while the clock reads 22:40:04.
    (void)scheduler.start(schedules({every("tick", "10s")}), {{"tick", at("2026-11-29T22:40:10Z"), "x"}},
                          at("2026-11-29T22:40:10.100Z"));
    (void)scheduler.reconfigure(schedules({every("tick", "5s")}), at("2026-11-29T22:40:04Z"));
    CHECK(scheduler.next_due() == at("2026-11-29T22:40:15Z"));
}

TEST_CASE("ticks whose commit failed get their mark back and fire again") {
    Scheduler scheduler("a");
    (void)scheduler.start(schedules({every("tick", "1s")}), {{"tick", at("2026-11-29T22:40:00Z"), "before"}},
                          at("2026-11-29T22:40:00.500Z"));
    auto fired = scheduler.take_due(at("2026-11-29T22:40:01Z"));
    REQUIRE(fired.size() == 1);
    scheduler.commit_failed();
    auto views = scheduler.list();
    CHECK(views[0].last_tick_ms == at("2026-11-29T22:40:00Z"));
    CHECK(views[0].last_job_id == "before");
    CHECK(scheduler.next_due() == at("2026-11-29T22:40:01Z"));

    // The journal is back a moment later: the same tick fires again, then the mark holds.
    CHECK(ids(scheduler.take_due(at("2026-11-29T22:40:01.900Z"))) ==
          std::vector<std::string>{"sched:tick:2026-11-29T22:40:01Z"});
    scheduler.committed();
    scheduler.commit_failed();  // nothing unconfirmed: changes nothing
    CHECK(scheduler.list()[0].last_tick_ms == at("2026-11-29T22:40:01Z"));
    CHECK(scheduler.next_due() == at("2026-11-29T22:40:02Z"));
}

TEST_CASE("a thousand schedules share one next-due time and fire in one call") {
    Scheduler scheduler("a");
    Schedules many;
    for (int i = 0; i < 1000; ++i) {
        auto settings = every("s" + std::to_string(i), i % 2 ? "1s" : "2s");
        many[settings.name] = settings;
    }
    (void)scheduler.start(many, {}, at("2026-11-29T22:40:00.500Z"));
    CHECK(scheduler.next_due() == at("2026-11-29T22:40:01Z"));
    CHECK(scheduler.take_due(at("2026-11-29T22:40:01Z")).size() == 500);
    CHECK(scheduler.take_due(at("2026-11-29T22:40:02Z")).size() == 1000);
    CHECK(scheduler.next_due() == at("2026-11-29T22:40:03Z"));
}
