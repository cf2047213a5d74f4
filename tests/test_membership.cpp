// Membership between nodes on loopback: peers learn each other, heartbeat, and see a node
// that is killed, frozen or restarted for what it is, within liveness × interval + 1 s.
#include "support/cluster.hpp"
#include "support/node_process.hpp"

#include <catch2/catch.hpp>
#include <zq/json.hpp>

#include <signal.h>

#include <chrono>
#include <memory>
#include <string>

using namespace zq::test;

namespace {

constexpr auto kLossDeadline = std::chrono::milliseconds(600 + 1000);

std::unique_ptr<NodeProcess> start_node(const std::string& name, const std::vector<std::string>& peers) {
    NodeOptions options{.name = name, .config = kFastHeartbeats, .min_workers = 1, .max_workers = 2};
    for (const auto& peer : peers) {
        options.extra_args.push_back("--peer");
        options.extra_args.push_back(peer);
    }
    return std::make_unique<NodeProcess>(options);
}

// The peer entry `name` in node's `peers` list (null if absent).
nlohmann::json peer_entry(NodeProcess& node, const std::string& name) {
    zq::Client client(node.endpoint());
    auto reply = client.control("peers");
    if (!reply) return nullptr;
    for (const auto& peer : zq::packed_to_json(*reply)) {
        if (peer["name"] == name) return peer;
    }
    return nullptr;
}

bool sees(NodeProcess& node, const std::string& name, const std::string& state) {
    auto peer = peer_entry(node, name);
    return !peer.is_null() && peer["state"] == state;
}

}  // namespace

TEST_CASE("a node that knows one live peer learns the rest and all see each other alive") {
    auto a = start_node("a", {});
    auto b = start_node("b", {a->endpoint()});
    auto c = start_node("c", {b->endpoint()});  // knows only b; learns a from b's WELCOME
    for (auto* node : {a.get(), b.get(), c.get()}) {
        for (const char* other : {"a", "b", "c"}) {
            if (node->status()["name"] == other) continue;
            INFO(node->status()["name"] << " should see " << other);
            CHECK(wait_until([&] { return sees(*node, other, "alive"); }));
        }
    }
    // Capacity is advertised in heartbeats, never guessed: wait for c's first one.
    nlohmann::json peer;
    CHECK(wait_until([&] {
        peer = peer_entry(*a, "c");
        return peer["capacity"].get<int>() >= 1;
    }));
    CHECK(peer["incarnation"].is_string());
    CHECK(std::find(peer["queues"].begin(), peer["queues"].end(), "node:c") != peer["queues"].end());

    auto text = run_command({ZQ_BIN_DIR "/zq-node", "peers", "--node", a->endpoint()});
    CHECK(text.exit_code == 0);
    CHECK_THAT(text.out, Catch::Contains("c ") && Catch::Contains(" alive "));
}

TEST_CASE("a killed node is seen lost with capacity 0 within liveness x interval + 1 s") {
    auto a = start_node("a", {});
    auto b = start_node("b", {a->endpoint()});
    REQUIRE(wait_until([&] { return sees(*a, "b", "alive"); }));

    b->signal(SIGKILL);
    auto killed_at = std::chrono::steady_clock::now();
    REQUIRE(wait_until([&] { return sees(*a, "b", "lost"); }));
    CHECK(std::chrono::steady_clock::now() - killed_at <= kLossDeadline);
    CHECK(peer_entry(*a, "b")["capacity"] == 0);
    b->wait_exit();
}

TEST_CASE("a frozen node is seen lost, and rejoins when it thaws") {
    auto a = start_node("a", {});
    auto b = start_node("b", {a->endpoint()});
    REQUIRE(wait_until([&] { return sees(*a, "b", "alive"); }));

    b->signal(SIGSTOP);
    REQUIRE(wait_until([&] { return sees(*a, "b", "lost"); }, kLossDeadline + std::chrono::seconds(1)));
    b->signal(SIGCONT);
    CHECK(wait_until([&] { return sees(*a, "b", "alive"); }));
    CHECK(wait_until([&] { return sees(*b, "a", "alive"); }));
}

TEST_CASE("a restarted node is seen with its new incarnation and a graceful stop is seen as left") {
    auto a = start_node("a", {});
    auto b = start_node("b", {a->endpoint()});
    REQUIRE(wait_until([&] { return sees(*a, "b", "alive"); }));
    std::string first = peer_entry(*a, "b")["incarnation"];

    b->kill_hard();
    b->start();
    REQUIRE(wait_until([&] {
        auto peer = peer_entry(*a, "b");
        return !peer.is_null() && peer["state"] == "alive" && peer["incarnation"] != first;
    }));
    CHECK_THAT(a->log(), Catch::Contains("peer b restarted"));

    b->signal(SIGTERM);
    CHECK(b->wait_exit() == 0);
    CHECK(wait_until([&] { return sees(*a, "b", "left"); }, std::chrono::milliseconds(500)));
}
