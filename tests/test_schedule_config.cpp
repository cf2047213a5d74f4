// [schedules.NAME] in the config: what is read, and the errors that name the schedule and say
// what to write instead.
#include "config.hpp"

#include "support/node_process.hpp"

#include <zq/json.hpp>

#include <catch2/catch.hpp>

#include <fstream>
#include <string>

using zq::node::Config;
using zq::node::MissedTicks;
using zq::node::ScheduleScope;
using zq::test::TempDir;

namespace {

// Loads `text` as a config file and finishes the config as `zq-node run` does.
zq::Result<Config> load(const std::string& text) {
    TempDir dir;
    std::string path = dir.path() + "/node.toml";
    std::ofstream(path) << text;
    Config config;
    config.name = std::string("a");
    if (auto loaded = zq::node::load_config_file(path, config); !loaded) return zq::Error{loaded.error()};
    if (auto finished = zq::node::finish_config(config); !finished) return zq::Error{finished.error()};
    return config;
}

std::string error_of(const std::string& text) {
    auto config = load(text);
    REQUIRE_FALSE(config);
    return config.error();
}

}  // namespace

TEST_CASE("a schedule is read with its task, arguments, timing, zone, scope and missed policy") {
    auto config = load(R"(
[schedules.cleanup]
task = "cache.clean"
args = ["/var/cache", 3, 1.5, true, [1, 2], { deep = "yes" }]
kwargs = { older_than = "7d", dry_run = false }
queue = "maintenance"
cron = "*/5 * * * *"
timezone = "Europe/Berlin"
missed = "skip"

[schedules.local]
task = "cache.trim"
every = "30s"
scope = "node"
)");
    REQUIRE(config);
    REQUIRE(config->schedules.size() == 2);
    const auto& cleanup = config->schedules.at("cleanup");
    CHECK(cleanup.name == "cleanup");
    CHECK(cleanup.task == "cache.clean");
    CHECK(zq::packed_to_json(cleanup.args) ==
          nlohmann::json::parse(R"(["/var/cache", 3, 1.5, true, [1, 2], {"deep": "yes"}])"));
    CHECK(zq::packed_to_json(cleanup.kwargs) == nlohmann::json::parse(R"({"older_than": "7d", "dry_run": false})"));
    CHECK(cleanup.queue == "maintenance");
    CHECK(cleanup.cron);
    CHECK_FALSE(cleanup.every);
    CHECK(cleanup.time_zone_name == "Europe/Berlin");
    CHECK(cleanup.scope == ScheduleScope::cluster);
    CHECK(cleanup.missed == MissedTicks::skip);

    const auto& local = config->schedules.at("local");
    REQUIRE(local.every);
    CHECK(local.every->interval_ms == 30'000);
    CHECK(local.time_zone_name == "UTC");
    CHECK(local.scope == ScheduleScope::node);
    CHECK(local.missed == MissedTicks::run_once);
    CHECK(zq::packed_to_json(local.args) == nlohmann::json::array());
    CHECK(zq::packed_to_json(local.kwargs) == nlohmann::json::object());
}

TEST_CASE("schedule errors name the schedule and what is wrong") {
    CHECK_THAT(error_of("[schedules.x]\ntask = \"t\"\nevery = \"1s\"\nevry = \"2s\"\n"),
               Catch::Contains("[schedules.x]: unknown key 'evry'"));
    CHECK_THAT(error_of("[schedules.x]\ntask = \"t\"\n"), Catch::Contains("[schedules.x]: set exactly one of 'every'"));
    CHECK_THAT(error_of("[schedules.x]\ntask = \"t\"\nevery = \"1s\"\ncron = \"* * * * *\"\n"),
               Catch::Contains("[schedules.x]: set exactly one of 'every'"));
    CHECK_THAT(error_of("[schedules.x]\nevery = \"1s\"\n"), Catch::Contains("[schedules.x]: 'task' must name"));
    CHECK_THAT(error_of("[schedules.x]\ntask = \"t\"\nevery = \"soon\"\n"),
               Catch::Contains("[schedules.x]: every \"soon\""));
    CHECK_THAT(error_of("[schedules.x]\ntask = \"t\"\ncron = \"*/0 * * * *\"\n"),
               Catch::Contains("[schedules.x]:") && Catch::Contains("*/0 * * * *"));
    CHECK_THAT(error_of("[schedules.x]\ntask = \"t\"\ncron = \"* * * *\"\n"), Catch::Contains("[schedules.x]:"));
    CHECK_THAT(error_of("[schedules.x]\ntask = \"t\"\ncron = \"0 3 * * *\"\ntimezone = \"Mars/Olympus\"\n"),
               Catch::Contains("[schedules.x]:") && Catch::Contains("\"Mars/Olympus\""));
    CHECK_THAT(error_of("[schedules.x]\ntask = \"t\"\nevery = \"1s\"\ntimezone = \"Europe/Berlin\"\n"),
               Catch::Contains("[schedules.x]: 'timezone' applies to 'cron' only"));
    CHECK_THAT(error_of("[schedules.x]\ntask = \"t\"\nevery = \"1s\"\nscope = \"everywhere\"\n"),
               Catch::Contains("[schedules.x]: 'scope' must be \"cluster\" or \"node\""));
    CHECK_THAT(error_of("[schedules.x]\ntask = \"t\"\nevery = \"1s\"\nmissed = \"all\"\n"),
               Catch::Contains("[schedules.x]: 'missed' must be \"skip\" or \"run_once\""));
    CHECK_THAT(error_of("[schedules.x]\ntask = \"t\"\nevery = \"1s\"\nargs = \"one\"\n"),
               Catch::Contains("[schedules.x]: 'args' must be an array"));
    CHECK_THAT(error_of("[schedules.x]\ntask = \"t\"\nevery = \"1s\"\nkwargs = [1]\n"),
               Catch::Contains("[schedules.x]: 'kwargs' must be a table"));
    CHECK_THAT(error_of("[schedules.x]\ntask = \"t\"\nevery = \"1s\"\nscope = \"node\"\ntarget = \"b\"\n"),
               Catch::Contains("[schedules.x]: 'target' does not go with scope = \"node\""));
    CHECK_THAT(error_of("[schedules.\"a:b\"]\ntask = \"t\"\nevery = \"1s\"\n"),
               Catch::Contains("[schedules.a:b]: the name may not contain '@' or ':'"));
    CHECK_THAT(error_of("[schedules.x]\ntask = 5\nevery = \"1s\"\n"),
               Catch::Contains("[schedules.x]: 'task' must be a string"));
    CHECK_THAT(error_of("[schedules.x]\ntask = \"t\"\ncron = \"0 0 30 2 *\"\n"),
               Catch::Contains("[schedules.x]:") && Catch::Contains("never"));
    CHECK_THAT(error_of("schedules = 3\n"),
               Catch::Contains("'schedules' must be a table of [schedules.NAME] sections"));
}

TEST_CASE("zq-node run refuses a config with a bad schedule, naming it, with exit code 2") {
    TempDir dir;
    std::string path = dir.path() + "/node.toml";
    std::ofstream(path) << "[schedules.nightly]\ntask = \"backup\"\ncron = \"0 25 * * *\"\n";
    auto run = zq::test::run_command(
        {ZQ_BIN_DIR "/zq-node", "run", "--config", path, "--data", dir.path() + "/data", "--name", "a"});
    CHECK(run.exit_code == 2);
    CHECK_THAT(run.err, Catch::Contains("[schedules.nightly]:") && Catch::Contains("0 25 * * *"));
}
