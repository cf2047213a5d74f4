// Capacity limits on a real node: a job's weight in capacity units, an exclusive job, and a
// per-queue limit per node. Each job is an exec task that appends its start and end times
// (ns) to a file, so that the checks read what ran at once from the clock, not from status.
#include "support/cluster.hpp"
#include "support/node_process.hpp"

#include <zq/client.hpp>
#include <zq/json.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

using namespace zq::test;

namespace {

// Whether `zq-node status` lists a held job (all of them when `id` is empty) whose reason
// begins with `reason`.
bool status_holds(NodeProcess& node, const std::string& id, const std::string& reason) {
    auto status = node.status();  // named: a range over a temporary's member would dangle
    for (const auto& held : status["held"]) {
        if ((id.empty() || held["id"] == id) && held["reason"].get<std::string>().rfind(reason, 0) == 0) return true;
    }
    return false;
}

// [tasks.NAME] running: echo "LABEL start NS" >> FILE; sleep SECONDS; echo "LABEL end NS" >> FILE.
// Lines are appended with O_APPEND, each in one write, so concurrent jobs do not mix them.
std::string stamp_task(const std::string& name, const std::string& extra = "") {
    return "[tasks." + name +
           "]\ncommand = [\"/bin/sh\", \"-c\", \"echo \\\"$1 start $(date +%s%N)\\\" >> \\\"$0\\\"; sleep $2; "
           "echo \\\"$1 end $(date +%s%N)\\\" >> \\\"$0\\\"\"]\n" +
           extra;
}

struct Run {
    std::string label;
    long long start = 0;
    long long end = 0;
};

// The runs in the file, by label: a label without both times is a failure of the test.
std::vector<Run> read_runs(const std::string& path) {
    std::ifstream in(path);
    std::map<std::string, Run> runs;
    std::string label, what;
    long long ns = 0;
    while (in >> label >> what >> ns) {
        Run& run = runs[label];
        run.label = label;
        (what == "start" ? run.start : run.end) = ns;
    }
    std::vector<Run> all;
    for (auto& [name, run] : runs) {
        INFO("run " << name);
        CHECK(run.start > 0);
        CHECK(run.end >= run.start);
        all.push_back(run);
    }
    return all;
}

bool overlap(const Run& a, const Run& b) { return a.start < b.end && b.start < a.end; }

// The most of `weight(run)` that is running at any one instant (checked at every start).
template <class Weight>
long long peak(const std::vector<Run>& runs, Weight weight) {
    long long most = 0;
    for (const Run& at : runs) {
        long long sum = 0;
        for (const Run& other : runs) {
            if (other.start <= at.start && at.start < other.end) sum += weight(other);
        }
        most = std::max(most, sum);
    }
    return most;
}

bool kind_is(const Run& run, const std::string& prefix) { return run.label.rfind(prefix, 0) == 0; }

std::string submit_stamp(zq::Client& client, const std::string& task, const std::string& file,
                         const std::string& label, const std::string& seconds, const std::string& queue = "default",
                         bool exclusive = false) {
    zq::Task job(task);
    job.with_args(file, label, seconds);
    job.queue = queue;
    job.exclusive = exclusive;
    auto submitted = client.submit(job);
    REQUIRE(submitted);
    return submitted->id;
}

}  // namespace

TEST_CASE("jobs of weight 2 on a node of 4 units never run more than 2 at once, and weight 1 fills the rest") {
    TempDir files;
    const std::string log = files.path() + "/runs";
    NodeProcess node({.name = "weights",
                      .config = "capacity = 4\n" + stamp_task("heavy", "weight = 2\n") + stamp_task("light"),
                      .min_workers = 4,
                      .max_workers = 4});
    zq::Client client(node.endpoint());
    std::vector<std::string> ids;
    for (int i = 0; i < 6; ++i) {
        ids.push_back(submit_stamp(client, "heavy", log, "heavy-" + std::to_string(i), "0.3"));
        ids.push_back(submit_stamp(client, "light", log, "light-" + std::to_string(i), "0.2"));
    }
    require_all_succeeded(client, ids);
    auto runs = read_runs(log);
    REQUIRE(runs.size() == 12);
    auto weight = [](const Run& run) { return kind_is(run, "heavy") ? 2 : 1; };
    CHECK(peak(runs, weight) <= 4);
    CHECK(peak(runs, [](const Run& run) { return kind_is(run, "heavy") ? 1 : 0; }) == 2);
    // Light jobs ran beside a heavy one: the units a heavy job left were used.
    bool filled = false;
    for (const Run& heavy : runs) {
        for (const Run& light : runs) {
            filled = filled || (kind_is(heavy, "heavy") && kind_is(light, "light") && overlap(heavy, light));
        }
    }
    CHECK(filled);
}

TEST_CASE("an exclusive job overlaps no other job on its node, and jobs queued after it wait for it") {
    TempDir files;
    const std::string log = files.path() + "/runs";
    NodeProcess node({.name = "exclusive", .config = stamp_task("stamp"), .min_workers = 4, .max_workers = 4});
    zq::Client client(node.endpoint());
    std::vector<std::string> ids;
    for (int i = 0; i < 6; ++i) ids.push_back(submit_stamp(client, "stamp", log, "before-" + std::to_string(i), "0.3"));
    ids.push_back(submit_stamp(client, "stamp", log, "solo", "0.3", "default", true));
    // It waits for the jobs ahead of it to end, and says so.
    CHECK(wait_until([&] { return status_holds(node, ids.back(), "exclusive: waits for"); }));
    for (int i = 0; i < 6; ++i) ids.push_back(submit_stamp(client, "stamp", log, "after-" + std::to_string(i), "0.1"));
    require_all_succeeded(client, ids);
    auto runs = read_runs(log);
    REQUIRE(runs.size() == 13);
    auto solo = std::find_if(runs.begin(), runs.end(), [](const Run& run) { return run.label == "solo"; });
    REQUIRE(solo != runs.end());
    for (const Run& run : runs) {
        if (run.label == "solo") continue;
        INFO(run.label);
        CHECK_FALSE(overlap(run, *solo));
        // Once it was first in line nothing new started: every later job started after it ended.
        if (kind_is(run, "after")) CHECK(run.start >= solo->end);
    }
}

TEST_CASE("a per-queue limit of 2 on a node of 4 workers holds under a burst of 50, while another queue runs") {
    TempDir files;
    const std::string log = files.path() + "/runs";
    NodeProcess node({.name = "heavyq",
                      .config = "queues = [\"default\", \"heavy\"]\n[queue.heavy]\nconcurrency = 2\n" +
                                stamp_task("stamp"),
                      .min_workers = 4,
                      .max_workers = 4});
    zq::Client client(node.endpoint());
    std::vector<std::string> ids;
    for (int i = 0; i < 50; ++i) {
        ids.push_back(submit_stamp(client, "stamp", log, "heavy-" + std::to_string(i), "0.05", "heavy"));
    }
    // Status says why the rest of the burst waits.
    CHECK(wait_until([&] { return status_holds(node, "", "queue heavy: 2 of 2 running on this node"); }));
    for (int i = 0; i < 10; ++i) ids.push_back(submit_stamp(client, "stamp", log, "other-" + std::to_string(i), "0.05"));
    require_all_succeeded(client, ids);
    auto runs = read_runs(log);
    REQUIRE(runs.size() == 60);
    CHECK(peak(runs, [](const Run& run) { return kind_is(run, "heavy") ? 1 : 0; }) == 2);
    // The other queue did not wait for the burst: its jobs ran while heavy ones still did.
    long long last_heavy_end = 0, last_other_end = 0;
    for (const Run& run : runs) {
        (kind_is(run, "heavy") ? last_heavy_end : last_other_end) =
            std::max(kind_is(run, "heavy") ? last_heavy_end : last_other_end, run.end);
    }
    CHECK(last_other_end < last_heavy_end);
}

TEST_CASE("a job heavier than every node's capacity is rejected with the reason") {
    NodeProcess node({.name = "small", .config = "capacity = 4\n", .min_workers = 2, .max_workers = 4});
    auto sent = run_command({ZQ_BIN_DIR "/zq-send", "--node", node.endpoint(), "--weight", "5", "zq.noop"});
    CHECK(sent.exit_code == 1);
    INFO(sent.out << sent.err);
    CHECK((sent.out + sent.err).find("weight 5 exceeds the capacity of every node that may run it (small: 4 units)") !=
          std::string::npos);
    // A weight that fits runs, and so does an exclusive job.
    auto fits = run_command(
        {ZQ_BIN_DIR "/zq-send", "--node", node.endpoint(), "--weight", "4", "--exclusive", "--wait", "zq.noop"});
    INFO(fits.out << fits.err);
    CHECK(fits.exit_code == 0);
    auto bad = run_command({ZQ_BIN_DIR "/zq-send", "--node", node.endpoint(), "--weight", "0", "zq.noop"});
    CHECK(bad.exit_code == 2);
}

TEST_CASE("a heavy job goes to the peer with the units for it, and one heavier than every node is rejected") {
    NodeProcess small({.name = "a", .config = std::string(kFastHeartbeats) + "capacity = 2\n", .min_workers = 1,
                       .max_workers = 2});
    NodeProcess big({.name = "b",
                     .config = std::string(kFastHeartbeats) + "capacity = 8\n",
                     .min_workers = 1,
                     .max_workers = 2,
                     .extra_args = {"--peer", small.endpoint()}});
    // a has heard b's capacity in units.
    REQUIRE(wait_until([&] {
        auto reply = zq::Client(small.endpoint()).control("peers");
        if (!reply) return false;
        for (const auto& peer : zq::packed_to_json(*reply)) {
            if (peer["name"] == "b") return peer["state"] == "alive" && peer["units"] == 8 && peer["capacity"] == 8;
        }
        return false;
    }));
    zq::Client client(small.endpoint());
    zq::Task heavy("zq.echo");
    heavy.with_args(std::string("heavy"));
    heavy.weight = 5;
    auto submitted = client.submit(heavy);
    REQUIRE(submitted);
    auto job = client.wait(submitted->id, kDeadline);
    REQUIRE(job);
    CHECK(job->state == zq::JobState::succeeded);
    CHECK(job->node == "b");

    zq::Task too_heavy("zq.echo");
    too_heavy.weight = 9;
    auto refused = client.submit(too_heavy);
    REQUIRE_FALSE(refused);
    CHECK_THAT(refused.error(), Catch::Contains("weight 9 exceeds the capacity of every node that may run it "
                                                "(a: 2 units, b: 8 units)"));
}
