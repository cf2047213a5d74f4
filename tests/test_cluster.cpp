// Three real nodes on loopback: jobs placed by queue and by target, forwarded to their owner
// with the outcome flowing home to the origin's client, jobs reaped when their owner is
// killed, frozen or restarted, jobs waiting for an offline node, and cancels across nodes.
#include "support/cluster.hpp"
#include "support/node_process.hpp"

#include <zq/client.hpp>
#include <zq/json.hpp>

#include <catch2/catch.hpp>

#include <signal.h>

#include <chrono>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

using namespace zq::test;
using zq::Client;
using zq::JobState;
using zq::Task;

namespace {

// The loss window of kFastHeartbeats (3 heartbeats of 0.2 s), plus a second.
constexpr auto kLossDeadline = std::chrono::milliseconds(600 + 1000);

// A node serving its own queue `q<name>` (so that each queue has one home).
std::unique_ptr<NodeProcess> start_node(const std::string& name, const std::vector<std::string>& peers,
                                        const std::string& config = kFastHeartbeats) {
    NodeOptions options{.name = name, .config = config, .min_workers = 1, .max_workers = 2};
    options.extra_args = {"--queues", "q" + name};
    for (const auto& peer : peers) {
        options.extra_args.push_back("--peer");
        options.extra_args.push_back(peer);
    }
    return std::make_unique<NodeProcess>(options);
}

nlohmann::json peer_entry(NodeProcess& node, const std::string& name) {
    Client client(node.endpoint());
    auto reply = client.control("peers");
    if (!reply) return nullptr;
    for (const auto& peer : zq::packed_to_json(*reply)) {
        if (peer["name"] == name) return peer;
    }
    return nullptr;
}

std::uint64_t tasks_sent_to_workers(NodeProcess& node) {
    std::uint64_t sent = 0;
    auto status = node.status();  // named: a range over a temporary's member would dangle
    for (const auto& worker : status["workers"]) sent += worker["sent"].get<std::uint64_t>();
    return sent;
}

Task on_queue(Task task, const std::string& queue) {
    task.queue = queue;
    return task;
}

Task targeted(Task task, const std::string& node) {
    task.target = node;
    return task;
}

// A job running on `owner` for a client of `origin`, once the origin records it running there.
std::string start_remote_sleep(Client& client, NodeProcess& owner, int seconds) {
    auto submitted = client.submit(on_queue(Task("zq.sleep").with_args(seconds), "q" + owner.status()["name"].get<std::string>()));
    REQUIRE(submitted);
    REQUIRE(owner.worker_running(submitted->id) > 0);
    REQUIRE(wait_until([&] {
        auto job = client.status(submitted->id);
        return job && job->state == JobState::running;
    }));
    return submitted->id;
}

struct Cluster {
    std::unique_ptr<NodeProcess> a, b, c;
    explicit Cluster(const std::string& a_config = kFastHeartbeats) {
        a = start_node("a", {}, a_config);
        b = start_node("b", {a->endpoint()});
        c = start_node("c", {a->endpoint()});
        REQUIRE(wait_until([&] { return sees_capacity(*a, "b") && sees_capacity(*a, "c"); }));
    }
};

}  // namespace

TEST_CASE("a job runs on the node serving its queue or on its target, and the result comes home") {
    Cluster cluster;
    Client client(cluster.a->endpoint());
    auto b_sent = tasks_sent_to_workers(*cluster.b);
    auto a_sent = tasks_sent_to_workers(*cluster.a);

    auto by_queue = client.submit(on_queue(Task("zq.echo").with_args(7, std::string("seven")), "qb"));
    REQUIRE(by_queue);
    auto job = client.wait(by_queue->id, kDeadline);
    REQUIRE(job);
    CHECK(job->state == JobState::succeeded);
    CHECK(job->node == "b");
    auto [number, text] = job->result_as<std::tuple<int, std::string>>();
    CHECK(number == 7);
    CHECK(text == "seven");
    CHECK(tasks_sent_to_workers(*cluster.b) == b_sent + 1);
    CHECK(tasks_sent_to_workers(*cluster.a) == a_sent);

    auto by_target = client.submit(targeted(Task("zq.echo").with_args(std::string("to c")), "c"));
    REQUIRE(by_target);
    job = client.wait(by_target->id, kDeadline);
    REQUIRE(job);
    CHECK(job->state == JobState::succeeded);
    CHECK(job->node == "c");
    CHECK(job->result_as<std::tuple<std::string>>() == std::make_tuple(std::string("to c")));

    // The origin's record says where it ran; the owner keeps its own record too.
    auto status = client.status(by_target->id);
    REQUIRE(status);
    CHECK(status->node == "c");
    auto at_owner = Client(cluster.c->endpoint()).status(by_target->id);
    REQUIRE(at_owner);
    CHECK(at_owner->state == JobState::succeeded);
}

TEST_CASE("a killed owner's job ends in error at the origin within liveness x interval + 1 s, naming the node") {
    Cluster cluster;
    Client client(cluster.a->endpoint());
    std::string id = start_remote_sleep(client, *cluster.b, 60);

    cluster.b->signal(SIGKILL);
    auto killed_at = std::chrono::steady_clock::now();
    auto job = client.wait(id, kLossDeadline + std::chrono::seconds(1));
    REQUIRE(job);
    CHECK(std::chrono::steady_clock::now() - killed_at <= kLossDeadline);
    CHECK(job->state == JobState::error);
    CHECK_THAT(job->error, Catch::StartsWith("node b lost: silent for") && Catch::Contains("heartbeats of 0.2s"));
    cluster.b->wait_exit();
}

TEST_CASE("a frozen owner's job ends in error as lost, and its late report after it thaws is ignored") {
    Cluster cluster;
    Client client(cluster.a->endpoint());
    std::string id = start_remote_sleep(client, *cluster.b, 2);

    cluster.b->signal(SIGSTOP);
    auto job = client.wait(id, kLossDeadline + std::chrono::seconds(1));
    REQUIRE(job);
    CHECK(job->state == JobState::error);
    CHECK_THAT(job->error, Catch::StartsWith("node b lost"));

    cluster.b->signal(SIGCONT);
    CHECK(wait_until([&] { return sees_capacity(*cluster.a, "b"); }));
    // The worker finished the sleep while its node was frozen; the success reaches the origin
    // late and changes nothing.
    CHECK(wait_until([&] { return cluster.a->log().find("late STATE succeeded for job " + id) != std::string::npos; }));
    auto status = client.status(id);
    REQUIRE(status);
    CHECK(status->state == JobState::error);
    CHECK_THAT(status->error, Catch::StartsWith("node b lost"));
}

TEST_CASE("a restarted owner's jobs end in error at once, without waiting for the liveness timeout") {
    // With liveness 100 x 0.2 s, only the new incarnation can explain a quick reap.
    Cluster cluster("heartbeat_interval = 0.2\nheartbeat_liveness = 100\n");
    Client client(cluster.a->endpoint());
    std::string id = start_remote_sleep(client, *cluster.b, 60);

    cluster.b->kill_hard();
    cluster.b->start();
    auto job = client.wait(id, std::chrono::seconds(10));
    REQUIRE(job);
    CHECK(job->state == JobState::error);
    CHECK(job->error == "node b restarted (new incarnation) while the job was running there");
}

TEST_CASE("a job targeted at an offline node waits with a reason and runs when the node returns") {
    Cluster cluster;
    cluster.c->signal(SIGTERM);
    REQUIRE(cluster.c->wait_exit() == 0);
    REQUIRE(wait_until([&] { return peer_entry(*cluster.a, "c")["state"] == "left"; }));

    auto sent = run_command({ZQ_BIN_DIR "/zq-send", "--node", cluster.a->endpoint(), "--target", "c", "zq.echo", "hi"});
    REQUIRE(sent.exit_code == 0);
    nlohmann::json waiting;
    bool waits = wait_until([&] {
        auto status = cluster.a->status();
        waiting = status["waiting"];
        return status["jobs"]["waiting"] == 1 && waiting.size() == 1;
    });
    INFO(cluster.a->log() << cluster.a->status().dump());
    REQUIRE(waits);
    CHECK_THAT(waiting[0]["reason"].get<std::string>(), Catch::Contains("no capacity for target c: c left"));
    std::string id = waiting[0]["id"];
    auto text = run_command({ZQ_BIN_DIR "/zq-node", "status", "--node", cluster.a->endpoint()});
    CHECK_THAT(text.out, Catch::Contains("waiting " + id + ": no capacity for target c"));

    cluster.c->start();
    Client client(cluster.a->endpoint());
    auto job = client.wait(id, kDeadline);
    REQUIRE(job);
    CHECK(job->state == JobState::succeeded);
    CHECK(job->node == "c");
    CHECK(cluster.a->status()["jobs"]["waiting"] == 0);
}

TEST_CASE("a cancel at the origin stops the job on its owner and the job ends canceled") {
    Cluster cluster;
    Client client(cluster.a->endpoint());
    std::string id = start_remote_sleep(client, *cluster.c, 60);
    int worker = cluster.c->worker_running(id);

    auto requested = client.cancel(id);
    REQUIRE(requested);
    auto job = client.wait(id, kDeadline);
    REQUIRE(job);
    CHECK(job->state == JobState::canceled);
    CHECK(job->node == "c");
    // The task honoured the cancel: its worker lives on.
    CHECK(process_alive(worker));
    auto at_owner = Client(cluster.c->endpoint()).status(id);
    REQUIRE(at_owner);
    CHECK(at_owner->state == JobState::canceled);
}

TEST_CASE("a cancel while the owner is unreachable is kept, and the job ends canceled when the owner obeys") {
    // Liveness 100 x 0.2 s: the frozen owner is unreachable but not yet lost.
    Cluster cluster("heartbeat_interval = 0.2\nheartbeat_liveness = 100\n");
    Client client(cluster.a->endpoint());
    std::string id = start_remote_sleep(client, *cluster.b, 60);

    cluster.b->signal(SIGSTOP);
    auto requested = client.cancel(id);
    REQUIRE(requested);
    CHECK(requested->state == JobState::running);
    auto status = client.status(id);
    REQUIRE(status);
    CHECK(status->state == JobState::running);

    cluster.b->signal(SIGCONT);
    auto job = client.wait(id, kDeadline);
    REQUIRE(job);
    CHECK(job->state == JobState::canceled);
    CHECK(job->node == "b");
}

TEST_CASE("an outcome the origin missed is kept by the owner across restarts and delivered when the origin is back") {
    Cluster cluster;
    std::string id;
    {
        Client client(cluster.a->endpoint());
        id = start_remote_sleep(client, *cluster.b, 1);
    }
    // The origin dies; the job ends on b while nobody can hear it, then b restarts too.
    cluster.a->kill_hard();
    Client at_owner(cluster.b->endpoint());
    REQUIRE(wait_until([&] {
        auto job = at_owner.status(id);
        return job && job->state == JobState::succeeded;
    }));
    cluster.b->kill_hard();
    cluster.b->start();
    CHECK_THAT(cluster.b->log(), Catch::Contains("1 outcomes of forwarded jobs not yet acknowledged"));

    cluster.a->start();
    Client client(cluster.a->endpoint());
    auto job = client.wait(id, kDeadline);
    REQUIRE(job);
    CHECK(job->state == JobState::succeeded);
    CHECK(job->node == "b");
}

TEST_CASE("an origin that restarts ends in error the jobs of an owner it never hears from again") {
    Cluster cluster;
    std::string id;
    {
        Client client(cluster.a->endpoint());
        id = start_remote_sleep(client, *cluster.b, 60);
    }
    cluster.a->kill_hard();
    cluster.b->kill_hard();
    cluster.a->start();
    Client client(cluster.a->endpoint());
    auto job = client.wait(id, kDeadline);
    REQUIRE(job);
    CHECK(job->state == JobState::error);
    CHECK(job->error == "node b lost: not heard from within 5.9s of this node's restart");
}
