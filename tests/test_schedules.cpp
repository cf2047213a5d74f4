// Schedules on real nodes: ticks of `every = "1s"` run an exec task that appends its job id
// (ZQ_JOB_ID) to a file, and the tests count the tick ids there. Scope "node" runs once per
// node per tick; a cluster schedule on three nodes runs each tick once, even while the node
// that fires is killed and restarted; a restarted node neither repeats a tick nor fires the
// missed ones, except the latest with missed = "run_once"; reload adds, changes and removes
// schedules; `zq-node schedules --json` shows each one.
#include "support/cluster.hpp"
#include "support/node_process.hpp"

#include <zq/json.hpp>
#include <zq/time_text.hpp>

#include <catch2/catch.hpp>

#include <signal.h>

#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

using namespace zq::test;

namespace {

// One line of the ticks file: the job id and the first argument of the tick's job.
struct TickLine {
    std::string id;
    std::string schedule;
    std::int64_t tick_ms = 0;
    std::string node;  // scope "node": the node in the id
    std::string argument;
};

// Reads "sched:NAME:TIME[:NODE] ARG" lines.
std::vector<TickLine> read_ticks(const std::string& path) {
    std::vector<TickLine> lines;
    std::ifstream file(path);
    for (std::string line; std::getline(file, line);) {
        std::istringstream words(line);
        TickLine tick;
        words >> tick.id >> tick.argument;
        if (!tick.id.starts_with("sched:")) continue;
        std::string rest = tick.id.substr(6);
        auto colon = rest.find(':');
        auto zulu = rest.find('Z', colon);
        if (colon == std::string::npos || zulu == std::string::npos) continue;
        tick.schedule = rest.substr(0, colon);
        auto time = zq::parse_rfc3339(rest.substr(colon + 1, zulu - colon));
        if (!time) continue;
        tick.tick_ms = *time;
        if (zulu + 1 < rest.size()) tick.node = rest.substr(zulu + 2);
        lines.push_back(tick);
    }
    return lines;
}

// How many times each tick of `schedule` (on `node`, for scope "node") was run.
std::map<std::int64_t, int> runs_by_tick(const std::vector<TickLine>& lines, const std::string& schedule,
                                         const std::string& node = {}) {
    std::map<std::int64_t, int> runs;
    for (const auto& line : lines) {
        if (line.schedule == schedule && line.node == node) ++runs[line.tick_ms];
    }
    return runs;
}

// The config of a node whose exec task `tick.append` appends "$ZQ_JOB_ID ARG" to `path`.
std::string tick_task(const std::string& path, const std::string& heartbeats = kFastHeartbeats) {
    return heartbeats + "[tasks.\"tick.append\"]\ncommand = [\"/bin/sh\", \"-c\", \"echo \\\"$ZQ_JOB_ID $0\\\" >> " +
           path + "\"]\n";
}

// The state of peer `name` as `node` sees it ("alive", "lost"...), "" when it knows none.
std::string peer_state(NodeProcess& node, const std::string& name) {
    zq::Client client(node.endpoint());
    auto reply = client.control("peers");
    if (!reply) return {};
    for (const auto& peer : zq::packed_to_json(*reply)) {
        if (peer["name"] == name) return peer["state"].get<std::string>();
    }
    return {};
}

std::string every_second(const std::string& name, const std::string& extra = {}) {
    return "[schedules." + name + "]\ntask = \"tick.append\"\nevery = \"1s\"\n" + extra;
}

std::unique_ptr<NodeProcess> start_node(const std::string& name, const std::string& config,
                                        const std::vector<std::string>& peers = {}) {
    NodeOptions options{.name = name, .config = config, .min_workers = 1, .max_workers = 2};
    for (const auto& peer : peers) {
        options.extra_args.push_back("--peer");
        options.extra_args.push_back(peer);
    }
    return std::make_unique<NodeProcess>(options);
}

std::int64_t now_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

nlohmann::json schedules_json(NodeProcess& node) {
    auto listed = run_command({ZQ_BIN_DIR "/zq-node", "schedules", "--json", "--node", node.endpoint()});
    if (listed.exit_code != 0) return nullptr;
    return nlohmann::json::parse(listed.out);
}

// Every tick from `first` to `last` ran exactly once.
void require_each_tick_once(const std::map<std::int64_t, int>& runs, std::int64_t first, std::int64_t last) {
    for (std::int64_t tick = first; tick <= last; tick += 1000) {
        INFO("tick " << zq::format_rfc3339(tick));
        auto found = runs.find(tick);
        CHECK(found != runs.end());
        if (found != runs.end()) CHECK(found->second == 1);
    }
}

}  // namespace

TEST_CASE("scope node runs once per node per tick") {
    TempDir files;
    std::string path = files.path() + "/ticks";
    std::string config = tick_task(path) + every_second("local", "scope = \"node\"\n");
    auto a = start_node("a", config);
    auto b = start_node("b", config, {a->endpoint()});
    REQUIRE(wait_until([&] { return sees_capacity(*a, "b") && sees_capacity(*b, "a"); }));

    // Both nodes have run five ticks since they met.
    std::int64_t met = now_ms();
    REQUIRE(wait_until(
        [&] {
            auto lines = read_ticks(path);
            auto on_a = runs_by_tick(lines, "local", "a"), on_b = runs_by_tick(lines, "local", "b");
            return !on_a.empty() && !on_b.empty() && on_a.rbegin()->first >= met + 5000 &&
                   on_b.rbegin()->first >= met + 5000;
        },
        std::chrono::seconds(15)));

    auto lines = read_ticks(path);
    auto on_a = runs_by_tick(lines, "local", "a"), on_b = runs_by_tick(lines, "local", "b");
    std::int64_t first = std::max(on_a.begin()->first, on_b.begin()->first);
    std::int64_t last = std::min(on_a.rbegin()->first, on_b.rbegin()->first);
    INFO(a->log() << b->log());
    CHECK(last - first >= 4000);
    require_each_tick_once(on_a, first, last);
    require_each_tick_once(on_b, first, last);
    // No tick of either node ran twice.
    std::set<std::string> ids;
    for (const auto& line : lines) CHECK(ids.insert(line.id).second);
}

// Every node submits each tick under the same id, and the cluster-wide ids (claims) let one
// job run. docs/architecture.md, "Schedules", tells what happens to each tick here.
//
// The heartbeats are 0.2 s, and a peer is lost after 30 of them (6 s): a node that starts
// again settles its claims only once it has heard from its peers, or after those 6 s, and its
// peers' links, which back off while it is down (up to 5 s between attempts), must reach it
// within that time. With 3 heartbeats it could start deciding alone before they do, and a
// tick could run twice (the cluster-wide ids' limit at a change of membership).
TEST_CASE("a cluster schedule on 3 nodes runs every tick exactly once while the firing node is killed and restarted") {
    TempDir files;
    std::string path = files.path() + "/ticks";
    // Each node's tick job carries the node's name, so the file says whose submission ran.
    auto config = [&](const std::string& name) {
        return tick_task(path, "heartbeat_interval = 0.2\nheartbeat_liveness = 30\n") +
               every_second("beat", "args = [\"" + name + "\"]\n");
    };
    // Every node knows every other from its config, so that a node that starts again links to
    // them at once (a node that knows no peer would act alone until one calls).
    std::map<std::string, std::string> endpoints;
    for (const char* name : {"a", "b", "c"}) endpoints[name] = loopback_endpoint(free_tcp_port());
    std::map<std::string, std::unique_ptr<NodeProcess>> nodes;
    for (const auto& [name, endpoint] : endpoints) {
        NodeOptions options{.name = name, .config = config(name), .min_workers = 1, .max_workers = 2};
        options.extra_args = {"--bind", endpoint};
        for (const auto& [peer, peer_endpoint] : endpoints) {
            if (peer != name) options.extra_args.insert(options.extra_args.end(), {"--peer", peer_endpoint});
        }
        nodes[name] = std::make_unique<NodeProcess>(options);
    }
    auto sees_others = [&](const std::string& name, const std::string& state) {
        for (const auto& [other, node] : nodes) {
            if (other != name && peer_state(*nodes.at(name), other) != state) return false;
        }
        return true;
    };
    REQUIRE(wait_until(
        [&] { return sees_others("a", "alive") && sees_others("b", "alive") && sees_others("c", "alive"); }));
    std::int64_t all_up = now_ms();

    auto latest = [&]() -> TickLine {
        auto lines = read_ticks(path);
        TickLine newest;
        for (const auto& line : lines) {
            if (line.tick_ms > newest.tick_ms) newest = line;
        }
        return newest;
    };
    auto next_tick_ran = [&] {
        std::int64_t seen = latest().tick_ms;
        return wait_until([&] { return latest().tick_ms > seen; }, std::chrono::seconds(5));
    };
    // Six ticks with all three up; then the node whose job ran the newest tick is killed
    // right after that job appended its line, a second before the next tick.
    REQUIRE(wait_until([&] { return latest().tick_ms >= all_up + 6000; }, std::chrono::seconds(15)));
    REQUIRE(next_tick_ran());
    TickLine fired = latest();
    std::string victim = fired.argument;
    nodes.at(victim)->kill_hard();

    // The others count it lost and settle its ticks between them; then it comes back on its
    // journal, right after a tick (nodes that are learning of a change in membership are not
    // asked to settle a tick at that moment).
    REQUIRE(wait_until(
        [&] {
            for (const auto& [name, node] : nodes) {
                if (name != victim && peer_state(*node, victim) != "lost") return false;
            }
            return true;
        },
        std::chrono::seconds(10)));
    REQUIRE(next_tick_ran());
    nodes.at(victim)->start();
    REQUIRE(wait_until([&] { return sees_others(victim, "alive"); }, std::chrono::seconds(10)));
    std::int64_t back = now_ms();
    // At least 20 ticks in all, the last ones with all three up again.
    std::int64_t first = read_ticks(path).front().tick_ms;
    REQUIRE(
        wait_until([&] { return latest().tick_ms >= std::max(first + 22000, back + 3000); }, std::chrono::seconds(30)));

    auto lines = read_ticks(path);
    auto runs = runs_by_tick(lines, "beat");
    std::int64_t last = latest().tick_ms - 1000;  // the newest may still be running elsewhere
    INFO("killed " << victim << " after tick " << zq::format_rfc3339(fired.tick_ms));
    INFO(nodes["a"]->log() << nodes["b"]->log() << nodes["c"]->log());
    CHECK((last - runs.begin()->first) / 1000 + 1 >= 20);
    require_each_tick_once(runs, runs.begin()->first, last);
}

TEST_CASE("a restarted node repeats no tick; run_once fires the latest it missed and skip none") {
    TempDir files;
    std::string path = files.path() + "/ticks";
    auto node = start_node("a", tick_task(path) + every_second("catchup", "missed = \"run_once\"\n") +
                                    every_second("skipper", "missed = \"skip\"\n"));
    REQUIRE(wait_until([&] {
        auto lines = read_ticks(path);
        return runs_by_tick(lines, "catchup").size() >= 2 && runs_by_tick(lines, "skipper").size() >= 2;
    }));
    node->kill_hard();
    std::int64_t killed_at = now_ms();
    auto before = read_ticks(path);
    std::int64_t last_catchup = runs_by_tick(before, "catchup").rbegin()->first;
    std::int64_t last_skipper = runs_by_tick(before, "skipper").rbegin()->first;

    // Down long enough to miss at least two ticks: the wait is the point of the test.
    REQUIRE(wait_until([&] { return now_ms() >= killed_at + 2500; }, std::chrono::seconds(5)));
    node->start();
    REQUIRE(wait_until([&] {
        auto lines = read_ticks(path);
        auto catchup = runs_by_tick(lines, "catchup"), skipper = runs_by_tick(lines, "skipper");
        return catchup.rbegin()->first >= killed_at + 5000 && skipper.rbegin()->first >= killed_at + 5000;
    }));

    auto lines = read_ticks(path);
    std::set<std::string> ids;
    for (const auto& line : lines) CHECK(ids.insert(line.id).second);
    auto catchup = runs_by_tick(lines, "catchup"), skipper = runs_by_tick(lines, "skipper");
    std::int64_t first_catchup = catchup.upper_bound(last_catchup)->first;
    std::int64_t first_skipper = skipper.upper_bound(last_skipper)->first;
    INFO(node->log());
    // Both restarted at the same instant: the catch-up schedule fired the latest tick before it
    // (none of the earlier missed ones), the skipping one only the ticks after it.
    CHECK(first_catchup >= last_catchup + 2000);
    CHECK(first_skipper == first_catchup + 1000);
    for (std::int64_t tick = first_catchup; tick <= catchup.rbegin()->first; tick += 1000)
        CHECK(catchup.count(tick) == 1);
    for (std::int64_t tick = first_skipper; tick <= skipper.rbegin()->first; tick += 1000)
        CHECK(skipper.count(tick) == 1);
}

TEST_CASE("zq-node reload adds a schedule, changes one without refiring a tick, and removes one") {
    TempDir files;
    std::string path = files.path() + "/ticks";
    auto node = start_node("a", tick_task(path) + every_second("first") + every_second("changed"));
    REQUIRE(wait_until([&] { return runs_by_tick(read_ticks(path), "first").size() >= 2; }));

    node->write_config(tick_task(path) + every_second("second") +
                       "[schedules.changed]\ntask = \"tick.append\"\nevery = \"2s\"\n");
    auto reload = run_command({ZQ_BIN_DIR "/zq-node", "reload", "--node", node->endpoint()});
    std::int64_t reloaded_at = now_ms();
    REQUIRE(reload.exit_code == 0);
    REQUIRE(wait_until([&] { return runs_by_tick(read_ticks(path), "second").size() >= 3; }));

    auto lines = read_ticks(path);
    for (const auto& [tick, runs] : runs_by_tick(lines, "first")) CHECK(tick <= reloaded_at);
    for (const auto& [tick, runs] : runs_by_tick(lines, "second")) CHECK(tick >= reloaded_at - 1000);
    for (const auto& [tick, runs] : runs_by_tick(lines, "changed")) {
        CHECK(runs == 1);
        if (tick > reloaded_at) CHECK(tick % 2000 == 0);
    }
    auto listed = schedules_json(*node);
    REQUIRE(listed.is_array());
    REQUIRE(listed.size() == 2);
    CHECK(listed[0]["name"] == "changed");
    CHECK(listed[0]["every"] == "2s");
    CHECK(listed[1]["name"] == "second");
    INFO(node->log());
    CHECK_THAT(node->log(), Catch::Contains("reload: schedules added: second; changed: changed; removed: first"));

    // A bad schedule is refused and the running ones stay.
    node->write_config(tick_task(path) + "[schedules.bad]\ntask = \"x\"\nevery = \"often\"\n");
    reload = run_command({ZQ_BIN_DIR "/zq-node", "reload", "--node", node->endpoint()});
    CHECK(reload.exit_code != 0);
    CHECK_THAT(reload.err, Catch::Contains("[schedules.bad]: every \"often\""));
    CHECK(schedules_json(*node).size() == 2);
}

TEST_CASE("zq-node schedules lists each schedule with its timing, next and last tick, and last job") {
    TempDir files;
    std::string path = files.path() + "/ticks";
    auto node = start_node("a", tick_task(path) + every_second("fast") +
                                    "[schedules.nightly]\ntask = \"report.build\"\ncron = \"30 2 * * *\"\n"
                                    "timezone = \"America/New_York\"\nscope = \"node\"\nmissed = \"skip\"\n"
                                    "args = [1, \"two\"]\nqueue = \"reports\"\n");
    nlohmann::json listed;
    REQUIRE(wait_until([&] {
        listed = schedules_json(*node);
        return listed.is_array() && listed.size() == 2 && listed[0]["last_job_state"] == "succeeded";
    }));

    const auto& fast = listed[0];
    CHECK(fast["name"] == "fast");
    CHECK(fast["task"] == "tick.append");
    CHECK(fast["scope"] == "cluster");
    CHECK(fast["missed"] == "run_once");
    CHECK(fast["every"] == "1s");
    CHECK(fast["cron"].is_null());
    CHECK(fast["timezone"] == "UTC");
    CHECK(fast["queue"] == "default");
    auto last = zq::parse_rfc3339(fast["last_tick"].get<std::string>());
    auto next = zq::parse_rfc3339(fast["next_tick"].get<std::string>());
    REQUIRE(last);
    REQUIRE(next);
    CHECK(*next > *last);
    CHECK(*last % 1000 == 0);
    CHECK(fast["last_job_id"] == "sched:fast:" + fast["last_tick"].get<std::string>().substr(0, 19) + "Z");
    CHECK(fast["last_job_node"] == "a");

    const auto& nightly = listed[1];
    CHECK(nightly["name"] == "nightly");
    CHECK(nightly["scope"] == "node");
    CHECK(nightly["missed"] == "skip");
    CHECK(nightly["every"].is_null());
    CHECK(nightly["cron"] == "30 2 * * *");
    CHECK(nightly["timezone"] == "America/New_York");
    CHECK(nightly["queue"] == "reports");
    CHECK(nightly["last_tick"].is_null());
    CHECK(nightly["last_job_id"].is_null());
    CHECK(nightly["last_job_state"].is_null());
    CHECK(nightly["last_job_node"].is_null());
    auto nightly_next = zq::parse_rfc3339(nightly["next_tick"].get<std::string>());
    REQUIRE(nightly_next);
    CHECK(*nightly_next > now_ms());
    // 02:30 in New York is 06:30 or 07:30 UTC, depending on daylight saving.
    CHECK_THAT(nightly["next_tick"].get<std::string>(), Catch::Contains("T06:30:00") || Catch::Contains("T07:30:00"));

    auto text = run_command({ZQ_BIN_DIR "/zq-node", "schedules", "--node", node->endpoint()});
    CHECK(text.exit_code == 0);
    CHECK_THAT(text.out, Catch::Contains("fast cluster every=1s task=tick.append next="));
    CHECK_THAT(text.out, Catch::Contains("nightly node cron=\"30 2 * * *\" timezone=America/New_York"));
}
