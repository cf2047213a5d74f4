// Schedules as the config declares them: one [schedules.NAME] table per recurring job.
//
//   [schedules.cleanup]
//   task = "cache.clean"
//   args = ["/var/cache/app"]
//   cron = "*/5 * * * *"          # or: every = "30s"
//   timezone = "Europe/Berlin"    # cron only; default UTC
//   scope = "cluster"             # once per tick across the cluster (default), or "node"
//   missed = "run_once"           # after all nodes were down: "skip" or "run_once" (default)
//
// The reader (schedule_config.cpp) checks everything a schedule needs before the node starts
// or a reload takes it: the cron expression, the interval and the time zone are parsed here,
// so that a schedule that is held can always compute its next tick. docs/configuration.md
// describes each key; scheduler.hpp is what runs them.
#pragma once

#include "cron.hpp"
#include "time_zone.hpp"

#include <zq/result.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace zq::node {

// Where a tick fires: once across every node that has the schedule, or once on each node.
enum class ScheduleScope { cluster, node };
// What a node that starts again does with the ticks that passed while it was down.
enum class MissedTicks { skip, run_once };

std::string_view to_string(ScheduleScope scope);
std::string_view to_string(MissedTicks missed);

struct ScheduleSettings {
    std::string name;
    std::string task;
    std::string args = std::string("\x90", 1);    // msgpack array
    std::string kwargs = std::string("\x80", 1);  // msgpack map
    std::string queue = "default";
    std::string target;  // empty: placed by queue (scope node: this node)
    // Exactly one of the two timings, as written and as parsed.
    std::string every_text;
    std::string cron_text;
    std::optional<Every> every;
    std::optional<CronExpression> cron;
    std::string time_zone_name = "UTC";  // cron only
    TimeZone time_zone;
    ScheduleScope scope = ScheduleScope::cluster;
    MissedTicks missed = MissedTicks::run_once;

    // Whether two settings declare the same schedule (every key compared as written).
    bool same_as(const ScheduleSettings& other) const;
};

using Schedules = std::map<std::string, ScheduleSettings, std::less<>>;

// The longest schedule name: its tick ids (scheduler.hpp) must fit the 256 bytes of an id.
inline constexpr std::size_t kMaxScheduleNameBytes = 128;

}  // namespace zq::node
