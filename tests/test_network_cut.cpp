// A real network cut between two "hosts" (network namespaces joined by a veth pair, made by
// the test): each side sees the other lost once the cut outlasts liveness × interval, and
// they rejoin when the link heals.
#include "support/network_namespaces.hpp"
#include "support/cluster.hpp"
#include "support/node_process.hpp"

#include <zq/json.hpp>

#include <catch2/catch.hpp>

#include <memory>

using namespace zq::test;

namespace {

constexpr int kPeerPort = 7711;

std::string tcp(const std::string& address) { return "tcp://" + address + ":" + std::to_string(kPeerPort); }

std::unique_ptr<NodeProcess> start_host(const std::string& name, const std::string& netns, const std::string& own,
                                        const std::string& peer, const std::string& queues = "default") {
    return std::make_unique<NodeProcess>(
        NodeOptions{.name = name,
                    .config = kFastHeartbeats,
                    .min_workers = 1,
                    .max_workers = 2,
                    .extra_args = {"--bind", tcp(own), "--peer", tcp(peer), "--queues", queues},
                    .netns = netns});
}

std::string peer_state(NodeProcess& node, const std::string& name) {
    zq::Client client(node.endpoint());
    auto reply = client.control("peers");
    if (!reply) return "no answer";
    for (const auto& peer : zq::packed_to_json(*reply)) {
        if (peer["name"] == name) return peer["state"];
    }
    return "unknown";
}

}  // namespace

TEST_CASE("a cut longer than the timeout makes both sides see the other lost, and healing rejoins them") {
    NetworkPair hosts;
    auto a = start_host("a", hosts.namespace_a(), hosts.address_a(), hosts.address_b());
    auto b = start_host("b", hosts.namespace_b(), hosts.address_b(), hosts.address_a());
    REQUIRE(wait_until([&] { return peer_state(*a, "b") == "alive" && peer_state(*b, "a") == "alive"; }));

    hosts.cut();
    CHECK(wait_until([&] { return peer_state(*a, "b") == "lost" && peer_state(*b, "a") == "lost"; }));

    hosts.heal();
    CHECK(wait_until([&] { return peer_state(*a, "b") == "alive" && peer_state(*b, "a") == "alive"; }));
}

TEST_CASE("across a cut, jobs on the far side are reaped once, jobs sent meanwhile wait, and nothing is lost") {
    NetworkPair hosts;
    auto a = start_host("a", hosts.namespace_a(), hosts.address_a(), hosts.address_b());
    auto b = start_host("b", hosts.namespace_b(), hosts.address_b(), hosts.address_a(), "far");
    REQUIRE(wait_until([&] { return peer_state(*a, "b") == "alive" && peer_state(*b, "a") == "alive"; }));
    zq::Client origin(a->endpoint());
    zq::Client owner(b->endpoint());

    // Placed across the link in both directions before the cut: a's job runs on b (queue
    // "far"), b's job runs on a (queue "default", which b does not serve).
    auto placed = origin.submit(zq::Task("zq.sleep").with_args(2).on_queue("far"));
    REQUIRE(placed);
    auto placed_back = owner.submit(zq::Task("zq.sleep").with_args(60));
    REQUIRE(placed_back);
    REQUIRE(b->worker_running(placed->id) > 0);
    REQUIRE(a->worker_running(placed_back->id) > 0);

    hosts.cut();
    auto reaped = origin.wait(placed->id, kDeadline);
    REQUIRE(reaped);
    CHECK(reaped->state == zq::JobState::error);
    CHECK_THAT(reaped->error, Catch::Contains("node b lost"));
    auto reaped_back = owner.wait(placed_back->id, kDeadline);
    REQUIRE(reaped_back);
    CHECK(reaped_back->state == zq::JobState::error);
    CHECK_THAT(reaped_back->error, Catch::Contains("node a lost"));

    // Accepted during the cut: no live node serves "far", so it waits at the origin.
    auto waiting = origin.submit(zq::Task("zq.echo").with_args(std::string("after the cut")).on_queue("far"));
    REQUIRE(waiting);
    CHECK(wait_until([&] { return a->status()["jobs"]["waiting"] == 1; }));
    auto finished_there = owner.wait(placed->id, kDeadline);  // the owner's own record
    REQUIRE(finished_there);
    CHECK(finished_there->state == zq::JobState::succeeded);

    hosts.heal();
    auto ran = origin.wait(waiting->id, kDeadline);
    REQUIRE(ran);
    CHECK(ran->state == zq::JobState::succeeded);
    CHECK(ran->node == "b");
    // The owner's report of the reaped job arrives late: logged, and the job keeps its one
    // terminal state at the origin.
    CHECK(wait_until([&] { return a->log().find("late STATE succeeded for job " + placed->id) != std::string::npos; }));
    auto still = origin.status(placed->id);
    REQUIRE(still);
    CHECK(still->state == zq::JobState::error);
    CHECK(still->error == reaped->error);
}
