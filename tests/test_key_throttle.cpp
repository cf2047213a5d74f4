// Throttles across a cluster (docs/architecture.md "Keys"): a key with a concurrency of 1 never
// runs two of its jobs at once anywhere in a 3-node cluster while other keys run in parallel,
// and a queue limited to 2 across the cluster holds under a burst of 200 jobs. Jobs are
// submitted to all three nodes; each run records its own start and end
// (support/run_times.hpp), and the checks are made from those times.
#include "claim_home.hpp"
#include "support/cluster.hpp"
#include "support/node_process.hpp"
#include "support/run_times.hpp"

#include <zq/client.hpp>
#include <zq/json.hpp>

#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <vector>

using namespace zq::test;
using zq::Client;
using zq::JobState;
using zq::Task;

namespace {

std::unique_ptr<NodeProcess> start_node(const std::string& name, const std::string& config,
                                        const std::vector<std::string>& peers) {
    return start_peered_node(name, config, peers, 2, 4);
}

struct ThreeNodes {
    TempDir shared;
    std::string runs_file = shared.path() + "/runs";
    std::unique_ptr<NodeProcess> a, b, c;

    ThreeNodes() {
        const std::string config = std::string(kFastHeartbeats) + "queues = [\"default\", \"heavy\"]\n" +
                                   recording_task_config(runs_file) + "[queue.heavy]\ncluster_concurrency = 2\n";
        a = start_node("a", config, {});
        b = start_node("b", config, {a->endpoint()});
        c = start_node("c", config, {a->endpoint(), b->endpoint()});
        REQUIRE(wait_until([&] {
            for (auto* node : nodes()) {
                std::string self = node->status()["name"];
                for (const char* name : {"a", "b", "c"}) {
                    if (name != self && !sees_alive(*node, name)) return false;
                }
            }
            return true;
        }));
    }
    std::vector<NodeProcess*> nodes() { return {a.get(), b.get(), c.get()}; }
};

Task recorded(const std::string& label, double seconds) {
    Task task("rec");
    task.with_args(label, std::to_string(seconds));
    return task;
}

}  // namespace

TEST_CASE("a key with concurrency 1 never runs two of its jobs at once across 3 nodes, while other keys run in parallel") {
    ThreeNodes cluster;
    std::vector<std::unique_ptr<Client>> clients;
    for (auto* node : cluster.nodes()) clients.push_back(std::make_unique<Client>(node->endpoint()));
    std::vector<std::pair<Client*, std::string>> submitted;
    std::vector<std::string> throttled, others;
    for (int round = 0; round < 4; ++round) {
        for (std::size_t n = 0; n < clients.size(); ++n) {
            const std::string label = "t" + std::to_string(round) + "-" + std::to_string(n);
            Task task = recorded(label, 0.05);
            task.unique_key = "tenant-1";
            task.key_concurrency = 1;
            auto accepted = clients[n]->submit(task);
            REQUIRE(accepted);
            submitted.emplace_back(clients[n].get(), accepted->id);
            throttled.push_back(label);
        }
    }
    // Six other keys, each throttled to 1 as well, each with one longer job.
    for (int k = 0; k < 6; ++k) {
        const std::string label = "o" + std::to_string(k);
        Task task = recorded(label, 0.4);
        task.unique_key = "other-" + std::to_string(k);
        task.key_concurrency = 1;
        Client& client = *clients[static_cast<std::size_t>(k) % clients.size()];
        auto accepted = client.submit(task);
        REQUIRE(accepted);
        submitted.emplace_back(&client, accepted->id);
        others.push_back(label);
    }
    for (auto& [client, id] : submitted) require_all_succeeded(*client, {id});

    auto runs = read_run_times(cluster.runs_file);
    std::vector<RunTimes> throttled_runs, other_runs;
    for (const auto& label : throttled) {
        REQUIRE(runs.count(label) == 1);
        REQUIRE(runs[label].end_ns > 0);
        throttled_runs.push_back(runs[label]);
    }
    for (const auto& label : others) other_runs.push_back(runs[label]);
    CHECK(most_at_once(throttled_runs) == 1);
    // Jobs of different keys overlapped: the throttle is per key, not per cluster.
    CHECK(most_at_once(other_runs) >= 2);
}

TEST_CASE("a queue limited to 2 across a 3-node cluster never runs more than 2 jobs at once under a burst of 200") {
    ThreeNodes cluster;
    std::vector<std::unique_ptr<Client>> clients;
    for (auto* node : cluster.nodes()) clients.push_back(std::make_unique<Client>(node->endpoint()));
    std::vector<std::vector<std::string>> ids(clients.size());
    for (int i = 0; i < 200; ++i) {
        const std::size_t n = static_cast<std::size_t>(i) % clients.size();
        Task task = recorded("h" + std::to_string(i), 0.02);
        task.queue = "heavy";
        auto accepted = clients[n]->submit(task);
        REQUIRE(accepted);
        ids[n].push_back(accepted->id);
    }
    // Status names the limit the burst waits on.
    CHECK(wait_until(
        [&] {
            auto current = cluster.a->status();  // named: a range over a temporary's member would dangle
            for (const auto& each : current["waiting"]) {
                if (std::string(each["reason"]).find("2 of 2 running in the cluster") != std::string::npos) return true;
            }
            return false;
        },
        std::chrono::seconds(3)));
    for (std::size_t n = 0; n < clients.size(); ++n) require_all_succeeded(*clients[n], ids[n]);

    auto runs = read_run_times(cluster.runs_file);
    REQUIRE(runs.size() == 200);
    std::vector<RunTimes> all;
    for (const auto& [label, times] : runs) all.push_back(times);
    CHECK(most_at_once(all) == 2);
}

TEST_CASE("discard holds across nodes: a duplicate submitted to another node is dropped and names the job it duplicates") {
    ThreeNodes cluster;
    Client a(cluster.a->endpoint()), b(cluster.b->endpoint()), c(cluster.c->endpoint());
    Task first = recorded("d0", 1.0);
    first.unique_key = "nightly";
    first.unique_policy = "discard";
    auto held = a.submit(first);
    REQUIRE(held);
    for (Client* other : {&b, &c}) {
        Task again = recorded("d-again", 0.01);
        again.unique_key = "nightly";
        again.unique_policy = "discard";
        auto dropped = other->submit(again);
        REQUIRE(dropped);
        INFO(cluster.a->log() << "\n----b\n" << cluster.b->log() << "\n----c\n" << cluster.c->log());
        CHECK(dropped->state == JobState::canceled);
        CHECK(dropped->dedup == held->id);
    }
    require_all_succeeded(a, {held->id});
    // Once it ended, the key is free again, from any node.
    Task later = recorded("d1", 0.01);
    later.unique_key = "nightly";
    later.unique_policy = "discard";
    auto accepted = c.submit(later);
    REQUIRE(accepted);
    CHECK(accepted->dedup.empty());
    require_all_succeeded(c, {accepted->id});
}

TEST_CASE("when a key's home is lost, the jobs waiting for the key run after the next home took over, still one at a time") {
    ThreeNodes cluster;
    // A key whose home is c; the jobs run on a and b only, so that losing c loses no job.
    std::string key;
    for (int i = 0;; ++i) {
        key = "tenant-" + std::to_string(i);
        if (zq::node::claim_home("key:" + key, "a", {"b", "c"}) == "c") break;
    }
    Client a(cluster.a->endpoint()), b(cluster.b->endpoint());
    std::vector<std::pair<Client*, std::string>> jobs;
    std::vector<std::string> labels;
    for (int i = 0; i < 6; ++i) {
        Client& client = i % 2 ? b : a;
        Task task = recorded("l" + std::to_string(i), 0.3);
        task.unique_key = key;
        task.key_concurrency = 1;
        task.target = i % 2 ? "b" : "a";
        auto accepted = client.submit(task);
        REQUIRE(accepted);
        jobs.emplace_back(&client, accepted->id);
        labels.push_back("l" + std::to_string(i));
    }
    // One of them runs (granted by c); then c is killed.
    REQUIRE(wait_until([&] { return !read_run_times(cluster.runs_file).empty(); }));
    cluster.c->kill_hard();
    for (auto& [client, id] : jobs) require_all_succeeded(*client, {id});
    auto runs = read_run_times(cluster.runs_file);
    std::vector<RunTimes> all;
    for (const auto& label : labels) {
        REQUIRE(runs.count(label) == 1);
        all.push_back(runs[label]);
    }
    CHECK(most_at_once(all) == 1);
}
