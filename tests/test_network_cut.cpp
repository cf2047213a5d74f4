// A real network cut between two "hosts" (network namespaces joined by a veth pair, made by
// the test): each side sees the other lost once the cut outlasts liveness × interval, and
// they rejoin when the link heals.
#include "support/network_namespaces.hpp"
#include "support/node_process.hpp"

#include <zq/json.hpp>

#include <catch2/catch.hpp>

#include <memory>

using namespace zq::test;

namespace {

constexpr const char* kFastHeartbeats = "heartbeat_interval = 0.2\nheartbeat_liveness = 3\n";
constexpr int kPeerPort = 7711;

std::string tcp(const std::string& address) { return "tcp://" + address + ":" + std::to_string(kPeerPort); }

std::unique_ptr<NodeProcess> start_host(const std::string& name, const std::string& netns, const std::string& own,
                                        const std::string& peer) {
    return std::make_unique<NodeProcess>(NodeOptions{.name = name,
                                                     .config = kFastHeartbeats,
                                                     .min_workers = 1,
                                                     .max_workers = 2,
                                                     .extra_args = {"--bind", tcp(own), "--peer", tcp(peer)},
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
