// Workflows on real nodes: chains, chords, link_error and cancel, across nodes and restarts.
// Steps of zq.add with log: FILE append their job id to FILE, so a test counts the runs of
// each step by what happened, not by what the nodes say.
#include "support/cluster.hpp"
#include "support/node_process.hpp"

#include <zq/client.hpp>
#include <zq/json.hpp>
#include <zq/workflow.hpp>

#include <catch2/catch.hpp>

#include <signal.h>

#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

using namespace zq::test;
using zq::Client;
using zq::JobState;
using zq::Task;
using nlohmann::json;

namespace {

// How many times each job id appears in the runs file.
std::map<std::string, int> runs_in(const std::string& path) {
    std::map<std::string, int> runs;
    std::ifstream file(path);
    for (std::string line; std::getline(file, line);) ++runs[line];
    return runs;
}

Task logged_add(const std::string& log, std::vector<int> numbers, const std::string& target = {},
                double sleep = 0) {
    Task task("zq.add");
    task.args = zq::pack(numbers);
    json kwargs = {{"log", log}};
    if (sleep > 0) kwargs["sleep"] = sleep;
    task.kwargs = zq::pack_json(kwargs);
    task.target = target;
    return task;
}

std::unique_ptr<NodeProcess> start_peer(const std::string& name, const std::vector<std::string>& peers) {
    NodeOptions options{.name = name, .config = kFastHeartbeats, .min_workers = 1, .max_workers = 2};
    for (const auto& peer : peers) {
        options.extra_args.push_back("--peer");
        options.extra_args.push_back(peer);
    }
    return std::make_unique<NodeProcess>(options);
}

zq::JobInfo status_of(Client& client, const std::string& id) {
    auto job = client.status(id);
    REQUIRE(job);
    return *job;
}

CommandResult zq_send(std::vector<std::string> arguments) {
    arguments.insert(arguments.begin(), ZQ_BIN_DIR "/zq-send");
    return run_command(arguments, std::chrono::seconds(40));
}

std::string write_file(const TempDir& dir, const std::string& name, const std::string& text) {
    const std::string path = dir.path() + "/" + name;
    std::ofstream(path) << text;
    return path;
}

}  // namespace

TEST_CASE("a chain across two nodes completes after its origin is killed between two steps, each step run once") {
    TempDir shared;
    const std::string log = shared.path() + "/runs";
    auto a = start_peer("a", {});
    auto b = start_peer("b", {a->endpoint()});
    REQUIRE(wait_until([&] { return sees_capacity(*a, "b") && sees_capacity(*b, "a"); }));

    // add(1)@a -> add(1, 10)@b, slowly -> add(11, 100)@a -> add(111, 1000)@b: 1111.
    auto flow = zq::chain(logged_add(log, {1}, "a"), logged_add(log, {10}, "b", 1.5), logged_add(log, {100}, "a"),
                          logged_add(log, {1000}, "b"));
    Client client(a->endpoint());
    auto submitted = client.submit_workflow(flow);
    REQUIRE(submitted);
    const std::string wf = submitted->id;

    // While the second step runs on b, the origin dies.
    REQUIRE(wait_until([&] {
        auto step = client.status(wf + "/1");
        return step && step->state == JobState::running;
    }));
    a->kill_hard();
    a->start();

    Client again(a->endpoint());
    auto done = again.wait(wf, std::chrono::seconds(30));
    REQUIRE(done);
    INFO(a->log());
    REQUIRE(done->state == JobState::succeeded);
    CHECK(done->result_as<int>() == 1111);
    auto runs = runs_in(log);
    for (int step = 0; step < 4; ++step) CHECK(runs[wf + "/" + std::to_string(step)] == 1);
    CHECK(runs.size() == 4);
    zq::JobInfo slept = status_of(again, wf + "/1");
    CHECK(slept.state == JobState::succeeded);
    CHECK(slept.node == "b");
    CHECK(slept.workflow == wf);
    CHECK(slept.step == "1");
    zq::JobInfo last = status_of(again, wf + "/3");
    CHECK(last.node == "b");
    CHECK(status_of(again, wf + "/2").node == "a");
}

TEST_CASE("a chord of 20 on a 2-worker pool completes with the 20 results in order (zq-send workflow --wait --json)") {
    NodeProcess node({.min_workers = 2, .max_workers = 2});
    json members = json::array();
    for (int i = 0; i < 20; ++i) members.push_back({{"task", "zq.add"}, {"args", {i}}});
    json flow = {{"chord", {{"group", members}, {"then", {{"task", "zq.echo"}}}}}};
    TempDir dir;
    const std::string file = write_file(dir, "chord.json", flow.dump());

    auto sent = zq_send({"workflow", file, "--node", node.endpoint(), "--wait", "--json"});
    INFO(sent.out << sent.err);
    REQUIRE(sent.exit_code == 0);
    json out = json::parse(sent.out);
    CHECK(out["state"] == "succeeded");
    CHECK(out["id"].is_string());
    json expected = json::array();
    for (int i = 0; i < 20; ++i) expected.push_back(i);
    // zq.echo returns its arguments: the list of the 20 results is its one argument.
    CHECK(out["result"] == json::array({expected}));
    REQUIRE(out["steps"].size() == 21);
    for (const auto& step : out["steps"]) {
        CHECK(step["id"].is_string());
        CHECK(step["node"] == "test");
        CHECK(step["state"] == "succeeded");
    }
    CHECK(out["steps"][20]["step"] == "20");
}

TEST_CASE("a failed step calls its link_error once, and the chain stops at it") {
    TempDir shared;
    const std::string log = shared.path() + "/runs";
    NodeProcess node({.min_workers = 2, .max_workers = 2});
    Client client(node.endpoint());
    Task fail("zq.fail");
    fail.with_args("boom");
    auto failing = zq::immutable(fail).link_error(logged_add(log, {}));
    auto flow = zq::chain(logged_add(log, {1}), failing, logged_add(log, {2}), logged_add(log, {3}));
    auto submitted = client.submit_workflow(flow);
    REQUIRE(submitted);
    const std::string wf = submitted->id;
    auto done = client.wait(wf, std::chrono::seconds(20));
    REQUIRE(done);
    CHECK(done->state == JobState::failed);
    CHECK_THAT(done->error, Catch::Contains("boom") && Catch::Contains(wf + "/1"));
    // Steps: 0 add, 1 fail, 2 its link_error, 3 and 4 the rest of the chain.
    auto runs = runs_in(log);
    CHECK(runs[wf + "/0"] == 1);
    CHECK(runs[wf + "/2"] == 1);
    CHECK(runs.count(wf + "/3") == 0);
    CHECK(runs.count(wf + "/4") == 0);
    zq::JobInfo callback = status_of(client, wf + "/2");
    CHECK(callback.state == JobState::succeeded);
    CHECK(callback.step == "1.link_error");
    for (const char* skipped : {"/3", "/4"}) {
        zq::JobInfo step = status_of(client, wf + skipped);
        CHECK(step.state == JobState::canceled);
        CHECK_THAT(step.error, Catch::Contains("not run"));
    }
    // zq-send exits 1 for a workflow that failed, as for a job.
    auto waited = zq_send({"wait", wf, "--node", node.endpoint()});
    CHECK(waited.exit_code == 1);
}

TEST_CASE("canceling a workflow cancels its running and pending steps") {
    NodeProcess node({.min_workers = 1, .max_workers = 1});
    Client client(node.endpoint());
    Task sleep("zq.sleep");
    sleep.with_args(30);
    auto flow = zq::chain(sleep, Task("zq.add"), Task("zq.add"));
    auto submitted = client.submit_workflow(flow);
    REQUIRE(submitted);
    const std::string wf = submitted->id;
    REQUIRE(wait_until([&] {
        auto step = client.status(wf + "/0");
        return step && step->state == JobState::running;
    }));
    auto status = client.status(wf);
    REQUIRE(status);
    CHECK(status->state == JobState::running);
    REQUIRE(status->steps.size() == 3);
    CHECK(status->steps[1].state == JobState::pending);

    auto canceled = zq_send({"cancel", wf, "--node", node.endpoint()});
    INFO(canceled.out << canceled.err);
    auto done = client.wait(wf, std::chrono::seconds(10));
    REQUIRE(done);
    CHECK(done->state == JobState::canceled);
    CHECK(status_of(client, wf + "/0").state == JobState::canceled);
    CHECK(status_of(client, wf + "/1").state == JobState::canceled);
    CHECK(status_of(client, wf + "/2").state == JobState::canceled);
    // The workflow held no worker: the pool is free again.
    auto after = client.submit(Task("zq.noop"));
    REQUIRE(after);
    auto ran = client.wait(after->id, std::chrono::seconds(10));
    REQUIRE(ran);
    CHECK(ran->state == JobState::succeeded);
}

TEST_CASE("a malformed workflow is rejected with the reason") {
    NodeProcess node({.min_workers = 1, .max_workers = 1});
    TempDir dir;
    const std::string empty = write_file(dir, "empty.json", R"({"chain": []})");
    auto refused = zq_send({"workflow", empty, "--node", node.endpoint()});
    CHECK(refused.exit_code == 1);
    CHECK_THAT(refused.err, Catch::Contains("empty"));
    const std::string unknown = write_file(dir, "unknown.json", R"({"chain": [{"task": "zq.add", "colour": 1}]})");
    refused = zq_send({"workflow", unknown, "--node", node.endpoint()});
    CHECK(refused.exit_code == 1);
    CHECK_THAT(refused.err, Catch::Contains("unknown key 'colour'"));
    // A good one from stdin prints its id.
    auto good = run_command({"/bin/sh", "-c",
                             "echo '{\"group\": [{\"task\": \"zq.add\", \"args\": [1]}, {\"task\": \"zq.add\", "
                             "\"args\": [2]}]}' | " ZQ_BIN_DIR "/zq-send workflow - --wait --json --node " +
                                 node.endpoint()});
    INFO(good.out << good.err);
    REQUIRE(good.exit_code == 0);
    CHECK(json::parse(good.out)["result"] == json({1, 2}));
}

TEST_CASE("a plain job's links run its callbacks: ok with its result, err once with its id and error") {
    TempDir shared;
    const std::string log = shared.path() + "/runs";
    NodeProcess node({.min_workers = 2, .max_workers = 2});
    Client client(node.endpoint());

    Task add("zq.add");
    add.with_args(2, 3);
    add.carried = zq::pack_json(
        {{"links", {{"ok", json::array({{{"task", "zq.add"}, {"args", {10}}, {"kwargs", {{"log", log}}}}})},
                    {"err", json::array({{{"task", "zq.add"}, {"kwargs", {{"log", log}}}}})}}}});
    auto submitted = client.submit(add);
    REQUIRE(submitted);
    auto done = client.wait(submitted->id, std::chrono::seconds(10));
    REQUIRE(done);
    CHECK(done->result_as<int>() == 5);
    auto callback = client.wait(submitted->id + "/link.0", std::chrono::seconds(10));
    REQUIRE(callback);
    CHECK(callback->state == JobState::succeeded);
    CHECK(callback->result_as<int>() == 15);
    CHECK(runs_in(log)[submitted->id + "/link.0/0"] == 1);
    CHECK_FALSE(client.status(submitted->id + "/link_error.0"));

    Task fail("zq.fail");
    fail.with_args("boom");
    fail.carried = zq::pack_json({{"links", {{"err", json::array({{{"task", "zq.echo"}}})}}}});
    auto failing = client.submit(fail);
    REQUIRE(failing);
    // The callback is journaled in the turn that journals the job's end.
    auto failed = client.wait(failing->id, std::chrono::seconds(10));
    REQUIRE(failed);
    CHECK(failed->state == JobState::failed);
    auto errback = client.wait(failing->id + "/link_error.0", std::chrono::seconds(10));
    REQUIRE(errback);
    CHECK(errback->state == JobState::succeeded);
    json echoed = zq::packed_to_json(errback->result);
    CHECK(echoed[0] == failing->id);
    CHECK_THAT(echoed[1].get<std::string>(), Catch::Contains("boom"));

    Task bad("zq.add");
    bad.carried = zq::pack_json({{"links", {{"ok", json::array({{{"task", "zq.add"}, {"colour", 1}}})}}}});
    auto refused = client.submit(bad);
    REQUIRE_FALSE(refused);
    CHECK_THAT(refused.error(), Catch::Contains("links.ok[0]") && Catch::Contains("colour"));
}
