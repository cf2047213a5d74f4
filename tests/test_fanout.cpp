// Broadcasts over PUB/SUB on real nodes: each live node runs a broadcast once, a message the
// publisher's PUB drops is repaired from its history over the peer link, a node that joins
// later runs no earlier broadcast, a target lost before it reports counts as failed, and the
// sockets of the fanout leave an idle node idle.
#include "support/cluster.hpp"
#include "support/node_process.hpp"

#include <zq/client.hpp>
#include <zq/json.hpp>

#include <catch2/catch.hpp>
#include <zmq.hpp>

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <memory>
#include <string>
#include <vector>

using namespace zq::test;
using zq::Client;
using zq::JobState;
using zq::Task;

namespace {


std::unique_ptr<NodeProcess> start_node(const std::string& name, const std::vector<std::string>& peers,
                                        const std::vector<std::string>& more_args = {}) {
    NodeOptions options{.name = name, .config = kFastHeartbeats, .min_workers = 1, .max_workers = 2};
    for (const auto& peer : peers) {
        options.extra_args.push_back("--peer");
        options.extra_args.push_back(peer);
    }
    options.extra_args.insert(options.extra_args.end(), more_args.begin(), more_args.end());
    return std::make_unique<NodeProcess>(options);
}

// `node` sees every one of `names` alive and is subscribed to its broadcasts.
bool knows_alive(NodeProcess& node, const std::vector<std::string>& names) {
    Client client(node.endpoint());
    auto peers = client.control("peers");
    auto status = node.status();
    if (!peers || status.is_null()) return false;
    for (const auto& name : names) {
        bool alive = false;
        for (const auto& peer : zq::packed_to_json(*peers)) alive = alive || (peer["name"] == name && peer["state"] == "alive");
        if (!alive || !status["fanout"]["publishers"].contains(name)) return false;
    }
    return true;
}

nlohmann::json publisher_counts(NodeProcess& node, const std::string& publisher) {
    auto status = node.status();
    return status["fanout"]["publishers"][publisher];
}

std::uint64_t jobs_in_state(NodeProcess& node, const std::string& state) {
    auto status = node.status();
    return status["jobs"][state].get<std::uint64_t>();
}

CommandResult zq_send(const std::vector<std::string>& arguments) {
    std::vector<std::string> argv{ZQ_BIN_DIR "/zq-send"};
    argv.insert(argv.end(), arguments.begin(), arguments.end());
    return run_command(argv);
}

// Broadcasts `task` from `origin` and waits for every outcome.
zq::JobInfo broadcast_and_wait(NodeProcess& origin, Task task) {
    Client client(origin.endpoint());
    auto submitted = client.broadcast(std::move(task));
    REQUIRE(submitted);
    auto job = client.wait(submitted->id, kDeadline);
    REQUIRE(job);
    return *job;
}

std::map<std::string, JobState> outcome_states(const zq::JobInfo& job) {
    std::map<std::string, JobState> states;
    for (const auto& outcome : zq::broadcast_outcomes(job)) states[outcome.node] = outcome.state;
    return states;
}

struct Cluster {
    std::unique_ptr<NodeProcess> a, b, c;
    explicit Cluster(const std::vector<std::string>& a_args = {}) {
        a = start_node("a", {}, a_args);
        b = start_node("b", {a->endpoint()});
        c = start_node("c", {a->endpoint()});
        REQUIRE(wait_until([&] {
            return knows_alive(*a, {"b", "c"}) && knows_alive(*b, {"a", "c"}) && knows_alive(*c, {"a", "b"});
        }));
    }
};

}  // namespace

TEST_CASE("a broadcast on a three-node cluster runs exactly once on each node and --wait shows three outcomes") {
    Cluster cluster;
    auto sent = zq_send({"--broadcast", "zq.echo", "hello", "--node", cluster.b->endpoint(), "--wait", "--json"});
    INFO(sent.out << sent.err << cluster.b->log());
    REQUIRE(sent.exit_code == 0);
    auto reply = nlohmann::json::parse(sent.out);
    CHECK(reply["state"] == "succeeded");
    REQUIRE(reply["outcomes"].size() == 3);
    std::string id = reply["id"];
    std::vector<std::string> nodes;
    for (const auto& outcome : reply["outcomes"]) {
        nodes.push_back(outcome["node"]);
        CHECK(outcome["state"] == "succeeded");
        CHECK(outcome["result"] == nlohmann::json::array({"hello"}));
        CHECK(outcome["id"] == id + "@" + outcome["node"].get<std::string>());
    }
    CHECK(nodes == std::vector<std::string>{"a", "b", "c"});

    // Each node journaled one run (the origin also the broadcast itself), and no more.
    for (auto* node : {cluster.a.get(), cluster.c.get()}) {
        CHECK(jobs_in_state(*node, "succeeded") == 1);
    }
    CHECK(jobs_in_state(*cluster.b, "succeeded") == 2);
    auto run_on_c = Client(cluster.c->endpoint()).status(id + "@c");
    REQUIRE(run_on_c);
    CHECK(run_on_c->state == JobState::succeeded);
    CHECK(publisher_counts(*cluster.a, "b")["received"] == 1);
    CHECK(publisher_counts(*cluster.c, "b")["received"] == 1);
    auto status = run_command({ZQ_BIN_DIR "/zq-node", "status", "--node", cluster.a->endpoint()});
    CHECK_THAT(status.out, Catch::Contains("broadcasts from b: received=1 repaired=0 lost=0"));
}

TEST_CASE("a broadcast the publisher's PUB drops is repaired from its history over the peer link") {
    // The test hook keeps broadcast number 1 of node a in its history but never sends it.
    Cluster cluster({"--test-drop-broadcast", "1"});
    auto dropped = broadcast_and_wait(*cluster.a, Task("zq.echo").with_args(1));
    auto next = broadcast_and_wait(*cluster.a, Task("zq.echo").with_args(2));
    CHECK(dropped.state == JobState::succeeded);
    CHECK(outcome_states(dropped) ==
          std::map<std::string, JobState>{{"a", JobState::succeeded}, {"b", JobState::succeeded}, {"c", JobState::succeeded}});
    CHECK(next.state == JobState::succeeded);
    for (auto* node : {cluster.b.get(), cluster.c.get()}) {
        auto counts = publisher_counts(*node, "a");
        INFO(counts.dump() << node->log());
        CHECK(counts["repaired"] == 1);
        CHECK(counts["received"] == 1);
        CHECK(counts["lost"] == 0);
        CHECK(counts["missing"] == 0);
        // Repaired and run once: one run of each broadcast.
        CHECK(jobs_in_state(*node, "succeeded") == 2);
    }
    CHECK(cluster.a->log().find("repair for b") != std::string::npos);
}

TEST_CASE("a dropped broadcast no longer in the publisher's history is counted lost, and still runs once") {
    // a keeps one broadcast: when b asks for number 1, a has only number 2 left. Its
    // heartbeats are slow, so that none tells b about number 1 before number 2 arrives.
    NodeOptions options{.name = "a", .config = "fanout_history = 1\n",
                        .min_workers = 1, .max_workers = 2, .extra_args = {"--test-drop-broadcast", "1"}};
    auto a = std::make_unique<NodeProcess>(options);
    // b's liveness outlasts a's slow heartbeats: b never counts a lost (which would give up
    // its gaps and leave its stream) while a is only quiet.
    auto b = std::make_unique<NodeProcess>(NodeOptions{.name = "b",
                                                       .config = "heartbeat_interval = 0.2\nheartbeat_liveness = 10\n",
                                                       .min_workers = 1,
                                                       .max_workers = 2,
                                                       .extra_args = {"--peer", a->endpoint()}});
    REQUIRE(wait_until([&] { return knows_alive(*a, {"b"}) && knows_alive(*b, {"a"}); }));
    Client client(a->endpoint());
    auto dropped = client.broadcast(Task("zq.echo").with_args(1));
    auto next = client.broadcast(Task("zq.echo").with_args(2));
    REQUIRE(dropped);
    REQUIRE(next);
    // The origin sends it straight to b, which has not taken its run, a heartbeat later.
    for (const auto& id : {dropped->id, next->id}) {
        auto job = client.wait(id, kDeadline);
        REQUIRE(job);
        CHECK(job->state == JobState::succeeded);
    }
    auto counts = publisher_counts(*b, "a");
    INFO(counts.dump() << b->log());
    CHECK(counts["lost"] == 1);
    CHECK(counts["received"] == 1);
    CHECK(counts["missing"] == 0);
    CHECK(jobs_in_state(*b, "succeeded") == 2);
    CHECK(b->log().find("lost: no longer kept by the publisher") != std::string::npos);
}

TEST_CASE("a node that joins later runs no broadcast published before it joined") {
    auto a = start_node("a", {});
    auto b = start_node("b", {a->endpoint()});
    REQUIRE(wait_until([&] { return knows_alive(*a, {"b"}) && knows_alive(*b, {"a"}); }));
    auto before = broadcast_and_wait(*a, Task("zq.echo").with_args(std::string("before")));
    CHECK(outcome_states(before).size() == 2);

    auto c = start_node("c", {a->endpoint()});
    REQUIRE(wait_until([&] { return knows_alive(*a, {"b", "c"}) && knows_alive(*c, {"a", "b"}); }));
    auto after = broadcast_and_wait(*a, Task("zq.echo").with_args(std::string("after")));
    CHECK(after.state == JobState::succeeded);
    CHECK(outcome_states(after).size() == 3);

    // c ran the later broadcast only; the earlier one is unknown to it, even after a
    // heartbeat or two that advertise a's broadcast numbers.
    Client at_c(c->endpoint());
    auto stale = at_c.status(before.id + "@c");
    CHECK_FALSE(stale);
    CHECK(stale.error_code() == zq::ErrorCode::not_found);
    auto fresh = at_c.status(after.id + "@c");
    REQUIRE(fresh);
    CHECK(fresh->state == JobState::succeeded);
    CHECK(jobs_in_state(*c, "succeeded") == 1);
    auto counts = publisher_counts(*c, "a");
    CHECK(counts["received"] == 1);
    CHECK(counts["repaired"] == 0);
}

TEST_CASE("a broadcast target killed before it reports counts as an error, naming the node") {
    auto a = start_node("a", {});
    auto b = start_node("b", {a->endpoint()});
    REQUIRE(wait_until([&] { return knows_alive(*a, {"b"}) && knows_alive(*b, {"a"}); }));
    Client client(a->endpoint());
    auto submitted = client.broadcast(Task("zq.sleep").with_args(30));
    REQUIRE(submitted);
    REQUIRE(b->worker_running(submitted->id + "@b") > 0);
    // a's own run is canceled so that only b's outcome is left open.
    auto canceled = client.cancel(submitted->id + "@a");
    REQUIRE(canceled);
    b->kill_hard();

    auto job = client.wait(submitted->id, kDeadline);
    REQUIRE(job);
    CHECK(job->state == JobState::failed);
    CHECK(job->error.find("2 of 2 nodes did not succeed") != std::string::npos);
    auto outcomes = zq::broadcast_outcomes(*job);
    REQUIRE(outcomes.size() == 2);
    CHECK(outcomes[0].state == JobState::canceled);
    CHECK(outcomes[1].node == "b");
    CHECK(outcomes[1].state == JobState::error);
    CHECK(outcomes[1].error.find("node b lost") != std::string::npos);
}

TEST_CASE("a node that stops gracefully cancels the broadcast runs it had not started, and never runs them") {
    auto a = start_node("a", {});
    NodeOptions b_options{.name = "b", .config = std::string(kFastHeartbeats) + "shutdown_grace = 0.5\n",
                          .min_workers = 1, .max_workers = 1, .extra_args = {"--peer", a->endpoint()}};
    NodeProcess b(b_options);
    REQUIRE(wait_until([&] { return knows_alive(*a, {"b"}) && knows_alive(b, {"a"}); }));
    Client at_b(b.endpoint());
    occupy_worker(b, at_b);  // b's only worker: its run of the broadcast waits behind it
    Client client(a->endpoint());
    auto submitted = client.broadcast(Task("zq.echo").with_args(1));
    REQUIRE(submitted);
    std::string run = submitted->id + "@b";
    REQUIRE(wait_until([&] {
        auto queued = at_b.status(run);
        return queued && queued->state == JobState::queued;
    }));

    b.signal(SIGTERM);
    REQUIRE(b.wait_exit() == 0);
    auto job = client.wait(submitted->id, kDeadline);
    REQUIRE(job);
    CHECK(job->state == JobState::failed);
    CHECK(outcome_states(*job)["a"] == JobState::succeeded);
    CHECK(outcome_states(*job)["b"] != JobState::succeeded);

    b.start();
    auto after = Client(b.endpoint()).status(run);
    REQUIRE(after);
    CHECK(after->state == JobState::canceled);
    CHECK_THAT(after->error, Catch::Contains("before the broadcast ran here"));
}

TEST_CASE("a broadcast is refused with a reason when its id could not name its runs") {
    NodeProcess node({.name = "solo", .min_workers = 1, .max_workers = 1});
    auto sent = zq_send({"--broadcast", "zq.noop", "--id", "job@x", "--node", node.endpoint(), "--json"});
    CHECK(sent.exit_code == 1);
    CHECK(sent.err.find("may not contain '@'") != std::string::npos);
    // A broadcast on a node without peers runs there alone.
    auto alone = broadcast_and_wait(node, Task("zq.echo").with_args(3));
    CHECK(alone.state == JobState::succeeded);
    CHECK(outcome_states(alone) == std::map<std::string, JobState>{{"solo", JobState::succeeded}});
}

TEST_CASE("nodes that have broadcast and subscribed sit idle afterwards: no busy loop") {
    auto a = start_node("a", {});
    auto b = start_node("b", {a->endpoint()});
    REQUIRE(wait_until([&] { return knows_alive(*a, {"b"}) && knows_alive(*b, {"a"}); }));
    auto done = broadcast_and_wait(*a, Task("zq.noop"));
    REQUIRE(done.state == JobState::succeeded);
    // Subscribers come and go (as zq-trace does): each one's subscription reaches a's XPUB.
    std::string publisher = a->status()["fanout"]["endpoint"];
    zmq::context_t context;
    for (int round = 0; round < 10; ++round) {
        zmq::socket_t listener(context, zmq::socket_type::sub);
        listener.set(zmq::sockopt::linger, 0);
        listener.set(zmq::sockopt::subscribe, "E/");
        listener.connect(publisher);
        REQUIRE(wait_until([&] {
            auto topics = a->status()["fanout"]["topics"];
            return std::find(topics.begin(), topics.end(), "E/") != topics.end();
        }));
    }

    // CPU time over one second of wall time, from /proc: a loop that spins uses the whole
    // second; heartbeats every 0.2 s use a few milliseconds.
    auto cpu_seconds = [](int pid) {
        std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
        std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
        std::istringstream fields(text.substr(text.rfind(')') + 2));
        std::vector<std::string> values{std::istream_iterator<std::string>(fields), {}};
        return static_cast<double>(std::stoull(values.at(11)) + std::stoull(values.at(12))) /
               static_cast<double>(sysconf(_SC_CLK_TCK));
    };
    double a_before = cpu_seconds(a->pid()), b_before = cpu_seconds(b->pid());
    auto started = std::chrono::steady_clock::now();
    wait_until([&] { return std::chrono::steady_clock::now() - started >= std::chrono::seconds(1); });
    double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    CHECK((cpu_seconds(a->pid()) - a_before) / wall < 0.1);
    CHECK((cpu_seconds(b->pid()) - b_before) / wall < 0.1);
}
