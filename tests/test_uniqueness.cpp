// Uniqueness on one node (on_duplicate, docs/architecture.md "Keys"): serial runs a key's jobs
// one at a time in submission order, discard drops a job while another of its key is queued
// or running and names it, queue_one keeps at most one waiting. The times come from the runs
// themselves (support/run_times.hpp), not from the node's word.
#include "support/node_process.hpp"
#include "support/run_times.hpp"

#include <zq/client.hpp>

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace zq::test;
using zq::Client;
using zq::JobState;
using zq::Task;

namespace {

Task keyed(const std::string& name, const std::string& key, const std::string& policy) {
    Task task(name);
    task.unique_key = key;
    task.unique_policy = policy;
    return task;
}

Task recorded(const std::string& label, const std::string& key, const std::string& policy, double seconds) {
    Task task = keyed("rec", key, policy);
    task.with_args(label, std::to_string(seconds));
    return task;
}

// The reason status gives for a waiting job ("" when it is not listed as waiting).
std::string waiting_reason(NodeProcess& node, const std::string& id) {
    auto current = node.status();  // named: a range over a temporary's member would dangle
    for (const auto& each : current["waiting"]) {
        if (each["id"] == id) return each["reason"];
    }
    return {};
}

}  // namespace

TEST_CASE("serial runs the jobs of a key one at a time, in the order they were submitted") {
    TempDir shared;
    const std::string file = shared.path() + "/runs";
    NodeProcess node({.config = recording_task_config(file), .min_workers = 4, .max_workers = 4});
    Client client(node.endpoint());
    std::vector<std::string> ids;
    for (int i = 0; i < 8; ++i) {
        auto submitted = client.submit(recorded("s" + std::to_string(i), "report", "serial", 0.05));
        REQUIRE(submitted);
        ids.push_back(submitted->id);
    }
    require_all_succeeded(client, ids);
    auto runs = read_run_times(file);
    REQUIRE(runs.size() == 8);
    for (int i = 1; i < 8; ++i) {
        const RunTimes& before = runs["s" + std::to_string(i - 1)];
        const RunTimes& after = runs["s" + std::to_string(i)];
        INFO("job s" << i << " starts after s" << i - 1 << " ended");
        CHECK(after.start_ns >= before.end_ns);
    }
}

TEST_CASE("discard drops a job while another of its key runs, names that job, and takes one after it ended") {
    NodeProcess node({.min_workers = 2, .max_workers = 2});
    Client client(node.endpoint());
    auto first = client.submit(keyed("zq.sleep", "nightly", "discard").with_args(1.0));
    REQUIRE(first);
    REQUIRE(first->state == JobState::queued);
    REQUIRE(node.worker_running(first->id) > 0);

    auto second = client.submit(keyed("zq.sleep", "nightly", "discard").with_args(0.01));
    REQUIRE(second);
    CHECK(second->state == JobState::canceled);
    CHECK(second->dedup == first->id);
    auto dropped = client.wait(second->id, kDeadline);
    REQUIRE(dropped);
    CHECK(dropped->state == JobState::canceled);
    CHECK(dropped->error == "duplicate of " + first->id + " (key nightly)");

    auto done = client.wait(first->id, kDeadline);
    REQUIRE(done);
    CHECK(done->state == JobState::succeeded);
    auto third = client.submit(keyed("zq.sleep", "nightly", "discard").with_args(0.01));
    REQUIRE(third);
    CHECK(third->dedup.empty());
    require_all_succeeded(client, {third->id});
}

TEST_CASE("discard drops a job while another of its key is still queued") {
    // One worker, held by a job without a key: the first keyed job is queued behind it.
    NodeProcess node({.min_workers = 1, .max_workers = 1});
    Client client(node.endpoint());
    RunningJob blocker = occupy_worker(node, client);
    auto first = client.submit(keyed("zq.sleep", "k", "discard").with_args(0.01));
    REQUIRE(first);
    auto second = client.submit(keyed("zq.sleep", "k", "discard").with_args(0.01));
    REQUIRE(second);
    CHECK(second->dedup == first->id);
    REQUIRE(client.cancel(blocker.id));
    require_all_succeeded(client, {first->id});
}

TEST_CASE("queue_one keeps one job waiting behind the running one and drops a further one, naming the waiting job") {
    NodeProcess node({.min_workers = 2, .max_workers = 2});
    Client client(node.endpoint());
    auto running = client.submit(keyed("zq.sleep", "sync", "queue_one").with_args(1.0));
    REQUIRE(running);
    REQUIRE(node.worker_running(running->id) > 0);

    auto waiting = client.submit(keyed("zq.sleep", "sync", "queue_one").with_args(0.01));
    REQUIRE(waiting);
    CHECK(waiting->state == JobState::waiting);
    CHECK(waiting->dedup.empty());
    // Status says what it waits on.
    CHECK(waiting_reason(node, waiting->id) == "key sync: 1 of 1 running");

    auto dropped = client.submit(keyed("zq.sleep", "sync", "queue_one").with_args(0.01));
    REQUIRE(dropped);
    CHECK(dropped->state == JobState::canceled);
    CHECK(dropped->dedup == waiting->id);

    require_all_succeeded(client, {running->id, waiting->id});
    auto ended = client.wait(dropped->id, kDeadline);
    REQUIRE(ended);
    CHECK(ended->state == JobState::canceled);
}

TEST_CASE("zq-send sets the key and policy, and says which job a dropped submission duplicates") {
    NodeProcess node({.min_workers = 2, .max_workers = 2});
    const std::string send = std::string(ZQ_BIN_DIR) + "/zq-send";
    auto first = run_command({send, "--node", node.endpoint(), "--key", "k", "--on-duplicate", "discard", "--json",
                              "zq.sleep", "1"});
    REQUIRE(first.exit_code == 0);
    auto first_json = nlohmann::json::parse(first.out);
    auto second = run_command({send, "--node", node.endpoint(), "--key", "k", "--on-duplicate", "discard", "--json",
                               "zq.sleep", "1"});
    REQUIRE(second.exit_code == 0);
    auto second_json = nlohmann::json::parse(second.out);
    CHECK(second_json["state"] == "canceled");
    CHECK(second_json["dedup"] == first_json["id"]);
    auto bad = run_command({send, "--node", node.endpoint(), "--key", "k", "--on-duplicate", "sometimes", "zq.sleep", "1"});
    CHECK(bad.exit_code != 0);
    CHECK(bad.err.find("--on-duplicate") != std::string::npos);
}

TEST_CASE("a waiting keyed job asks again after its node restarts, and runs after the holder ended") {
    NodeProcess node({.min_workers = 2, .max_workers = 2});
    Client client(node.endpoint());
    auto holder = client.submit(keyed("zq.sleep", "k", "serial").with_args(30.0));
    REQUIRE(holder);
    REQUIRE(node.worker_running(holder->id) > 0);
    auto waiter = client.submit(keyed("zq.sleep", "k", "serial").with_args(0.01));
    REQUIRE(waiter);
    REQUIRE(waiter->state == JobState::waiting);
    node.kill_hard();
    node.start();
    Client again(node.endpoint());
    // The holder was running: the restart ends it (failed or error), which frees the key.
    auto ended = again.wait(holder->id, kDeadline);
    REQUIRE(ended);
    CHECK((ended->state == JobState::failed || ended->state == JobState::error));
    require_all_succeeded(again, {waiter->id});
}
