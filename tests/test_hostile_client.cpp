// A hostile client that holds only the client port, written from docs/protocol.md: every peer
// command it sends is refused (REJECTED "peer command on the client port...") and counted,
// the node's jobs are unchanged, it keeps answering, and its memory stays bounded. Also: the
// peer port refuses client commands, no peer may be named "" or after the node, HELLO adds at
// most max_peers, a publisher's jump to 2^40 costs one tracked range and is forgotten with the
// publisher, a flood of malformed messages is cut off, and --peer may still name a client port.
#include "support/cluster.hpp"
#include "support/node_process.hpp"
#include "support/publisher.hpp"
#include "support/raw_dealer.hpp"

#include <zq/codec.hpp>
#include <zq/json.hpp>

#include <catch2/catch.hpp>
#include <zmq.hpp>

#include <fstream>
#include <optional>
#include <string>
#include <vector>

using namespace zq::test;

namespace {

constexpr char kHello = '\x01';
constexpr char kHeartbeat = '\x03';
constexpr char kDisconnect = '\x04';
constexpr char kSubmit = '\x10';
constexpr char kState = '\x15';
constexpr char kBroadcast = '\x30';
// Messages each flood sends; the node's RSS may grow by less than kRssBound over them.
constexpr int kFlood = 1000;
constexpr long kRssBoundKb = 5 * 1024;

// A raw DEALER speaking ZQP/1, as a client written from the spec would.
class RawSocket {
public:
    explicit RawSocket(const std::string& endpoint) : dealer_(endpoint) {}

    void say(char command, zq::BodyWriter& body) { say_raw(command, std::string(body.finish())); }
    void say_raw(char command, const std::string& body) { dealer_.send(static_cast<std::uint8_t>(command), body); }
    // The next message, or nullopt when none comes within `deadline`.
    std::optional<zq::Message> next(std::chrono::milliseconds deadline = kDeadline) {
        auto frames = dealer_.receive_frames(deadline);
        if (!frames || frames->size() != 3) return std::nullopt;
        auto message = zq::decode((*frames)[0], (*frames)[1], (*frames)[2]);
        if (!message) return std::nullopt;
        return std::move(*message);
    }
    // The reason of the REJECTED that answers the last message ("" when the answer is not one).
    std::string rejection() {
        auto reply = next();
        if (!reply) return "no answer";
        if (reply->command() != zq::protocol::Command::rejected) return "not a REJECTED";
        return std::string(reply->string(zq::protocol::field::reason).value_or(""));
    }

private:
    RawDealer dealer_;
};

long rss_kb(pid_t pid) {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(status, line);) {
        if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
    }
    return -1;
}

std::uint64_t security(NodeProcess& node, const std::string& counter) {
    auto status = node.status();
    return status["security"][counter].get<std::uint64_t>();
}

// A HELLO body.
std::string hello(const std::string& name, const std::string& incarnation, const std::string& endpoint) {
    zq::BodyWriter body;
    body.add("node", name).add("inc", incarnation).add("ep", endpoint);
    return std::string(body.finish());
}

// A node with one worker busy and three jobs queued behind it: what a hostile client must not
// touch.
struct BusyNode {
    NodeProcess node{{.name = "solo", .config = kFastHeartbeats, .min_workers = 1, .max_workers = 1}};
    zq::Client client{node.endpoint()};
    RunningJob running = occupy_worker(node, client);
    std::vector<std::string> queued = submit_queued();

    std::vector<std::string> submit_queued() {
        std::vector<std::string> ids;
        for (int i = 0; i < 3; ++i) {
            auto submitted = client.submit(zq::Task("zq.echo").with_args(i));
            REQUIRE(submitted);
            ids.push_back(submitted->id);
        }
        return ids;
    }

    // Nothing was reaped, stolen or failed: the worker still runs its job, the queue waits,
    // and every job then runs here.
    void require_jobs_unchanged() {
        for (int i = 0; i < 3; ++i) {
            auto status = node.status();
            CHECK(status["jobs"]["failed"] == 0);
            CHECK(status["jobs"]["error"] == 0);
            CHECK(status["jobs"]["queued"] == 3);
            CHECK(status["jobs"]["running"] == 1);
        }
        auto job = client.status(running.id);
        REQUIRE(job);
        CHECK(job->state == zq::JobState::running);
        REQUIRE(client.cancel(running.id));
        for (const auto& id : queued) {
            auto done = client.wait(id, kDeadline);
            REQUIRE(done);
            CHECK(done->state == zq::JobState::succeeded);
            CHECK(done->node == "solo");
        }
    }
};

}  // namespace

TEST_CASE("HELLO then DISCONNECT naming peer \"\" on the client port is refused, reaps nothing, costs no memory") {
    BusyNode busy;
    RawSocket hostile(busy.node.endpoint());
    auto forged_hello = hello("", "forged", "ipc:///nonexistent/zq-forged.sock");
    hostile.say_raw(kHello, forged_hello);
    std::string answer = hostile.rejection();
    CHECK_THAT(answer, Catch::StartsWith("peer command on the client port"));
    zq::BodyWriter goodbye;
    goodbye.add("node", "").add("inc", "forged");
    hostile.say(kDisconnect, goodbye);
    CHECK_THAT(hostile.rejection(), Catch::StartsWith("peer command on the client port"));
    CHECK(security(busy.node, "peer_commands_refused") == 2);

    long before = rss_kb(busy.node.pid());
    for (int i = 0; i < kFlood / 2; ++i) {
        auto each = hello("", "forged" + std::to_string(i), "ipc:///nonexistent/zq-forged" + std::to_string(i));
        hostile.say_raw(kHello, each);
        REQUIRE_THAT(hostile.rejection(), Catch::StartsWith("peer command on the client port"));
        hostile.say(kDisconnect, goodbye);
        REQUIRE_THAT(hostile.rejection(), Catch::StartsWith("peer command on the client port"));
    }
    long after = rss_kb(busy.node.pid());
    CHECK(after - before < kRssBoundKb);
    CHECK(security(busy.node, "peer_commands_refused") == 2 + kFlood);
    auto peers = busy.client.control("peers");
    REQUIRE(peers);
    CHECK(zq::packed_to_json(*peers).empty());
    busy.require_jobs_unchanged();
}

TEST_CASE("a made-up publisher's HELLO and BROADCAST with seq 2^40 on the client port are refused, nothing tracked") {
    BusyNode busy;
    RawSocket hostile(busy.node.endpoint());
    long before = rss_kb(busy.node.pid());
    for (int i = 0; i < kFlood / 2; ++i) {
        std::string name = "ghost" + std::to_string(i);
        zq::BodyWriter introduction;
        introduction.add("node", name).add("inc", "i1").add("ep", "ipc:///nonexistent/" + name).add("seq", std::uint64_t{0});
        hostile.say(kHello, introduction);
        REQUIRE_THAT(hostile.rejection(), Catch::StartsWith("peer command on the client port"));
        zq::BodyWriter broadcast;
        broadcast.add("id", "b" + std::to_string(i))
            .add("task", "zq.echo")
            .add("node", name)
            .add("inc", "i1")
            .add("seq", std::uint64_t{1} << 40)
            .add_value("tgts", std::vector<std::string>{"solo"});
        hostile.say(kBroadcast, broadcast);
        REQUIRE_THAT(hostile.rejection(), Catch::StartsWith("peer command on the client port"));
    }
    long after = rss_kb(busy.node.pid());
    CHECK(after - before < kRssBoundKb);
    auto status = busy.node.status();
    CHECK(status["fanout"]["publishers"].empty());
    CHECK(status["security"]["peer_commands_refused"] == kFlood);
    busy.require_jobs_unchanged();
}

TEST_CASE("a forged STATE succeeded for a job running on a real peer never reaches its watcher") {
    auto a = start_peered_node("a", kFastHeartbeats, {}, 1, 1);
    auto b = start_peered_node("b", kFastHeartbeats, {a->peer_endpoint()}, 1, 1);
    REQUIRE(wait_until([&] { return sees_capacity(*a, "b") && sees_alive(*b, "a"); }));

    // The watcher submits to a a job that runs on b, with watch: it hears the outcome as STATE.
    RawSocket watcher(a->endpoint());
    zq::BodyWriter submit;
    submit.add("id", "real-job").add("task", "zq.sleep").add_value("args", std::vector<double>{1.5}).add("tgt", "b")
        .add("watch", true);
    watcher.say(kSubmit, submit);
    auto accepted = watcher.next();
    REQUIRE(accepted);
    REQUIRE(accepted->command() == zq::protocol::Command::accepted);
    REQUIRE(wait_until([&] { return b->worker_running("real-job") > 0; }));

    RawSocket hostile(a->endpoint());
    zq::BodyWriter forged;
    forged.add("id", "real-job").add("st", "succeeded").add("node", "b").add("res", "forged");
    hostile.say(kState, forged);
    CHECK_THAT(hostile.rejection(), Catch::StartsWith("peer command on the client port"));

    zq::Client client(a->endpoint());
    auto now = client.status("real-job");
    REQUIRE(now);
    CHECK(now->state == zq::JobState::running);
    // The watcher's only STATE is the real, terminal one.
    auto state = watcher.next();
    REQUIRE(state);
    REQUIRE(state->command() == zq::protocol::Command::state);
    CHECK(state->string("st") == "succeeded");
    CHECK(state->string("res") != "forged");
    auto done = client.wait("real-job", kDeadline);
    REQUIRE(done);
    CHECK(done->state == zq::JobState::succeeded);
    CHECK(done->node == "b");
    CHECK(done->result.find("forged") == std::string::npos);
    CHECK(security(*a, "peer_commands_refused") == 1);
}

TEST_CASE("a made-up peer announcing free capacity on the client port steals no queued job") {
    BusyNode busy;
    // Where the thief would have the node connect: nothing may arrive there.
    TempDir dir;
    std::string lair = "ipc://" + dir.path() + "/thief.sock";
    zmq::context_t context;
    zmq::socket_t trap(context, zmq::socket_type::router);
    trap.set(zmq::sockopt::linger, 0);
    trap.bind(lair);

    RawSocket hostile(busy.node.endpoint());
    long before = rss_kb(busy.node.pid());
    for (int i = 0; i < kFlood / 2; ++i) {
        auto introduction = hello("thief", "t1", lair);
        hostile.say_raw(kHello, introduction);
        REQUIRE_THAT(hostile.rejection(), Catch::StartsWith("peer command on the client port"));
        zq::BodyWriter offer;
        offer.add("node", "thief").add("inc", "t1").add("ep", lair).add("cap", std::uint64_t{100})
            .add("units", std::uint64_t{100}).add_value("qs", std::vector<std::string>{"default"});
        hostile.say(kHeartbeat, offer);
        REQUIRE_THAT(hostile.rejection(), Catch::StartsWith("peer command on the client port"));
    }
    long after = rss_kb(busy.node.pid());
    CHECK(after - before < kRssBoundKb);
    zmq::pollitem_t item{trap.handle(), 0, ZMQ_POLLIN, 0};
    CHECK(zmq::poll(&item, 1, std::chrono::milliseconds(300)) == 0);
    busy.require_jobs_unchanged();
}

TEST_CASE("the peer port refuses client commands, and no peer is named \"\" or after the node") {
    BusyNode busy;
    RawSocket intruder(busy.node.peer_endpoint());
    zq::BodyWriter submit;
    submit.add("id", "sneaky").add("task", "zq.echo");
    intruder.say(kSubmit, submit);
    CHECK_THAT(intruder.rejection(), Catch::StartsWith("client command on the peer port"));
    CHECK(security(busy.node, "client_commands_refused") == 1);
    auto sneaky = busy.client.status("sneaky");
    CHECK_FALSE(sneaky);

    // The exact sequence that once reaped the node's own jobs, now on the peer port: ignored.
    auto nameless = hello("", "forged", "ipc:///nonexistent/zq-nameless.sock");
    intruder.say_raw(kHello, nameless);
    zq::BodyWriter goodbye;
    goodbye.add("node", "").add("inc", "forged");
    intruder.say(kDisconnect, goodbye);
    auto impostor = hello("solo", "forged", "ipc:///nonexistent/zq-impostor.sock");
    intruder.say_raw(kHello, impostor);
    zq::BodyWriter impostor_goodbye;
    impostor_goodbye.add("node", "solo").add("inc", "forged");
    intruder.say(kDisconnect, impostor_goodbye);
    auto peers = busy.client.control("peers");
    REQUIRE(peers);
    CHECK(zq::packed_to_json(*peers).empty());
    busy.require_jobs_unchanged();
}

TEST_CASE("HELLO adds at most max_peers peers; the rest are refused") {
    NodeProcess node({.name = "small", .config = std::string(kFastHeartbeats) + "max_peers = 3\n", .min_workers = 1,
                      .max_workers = 1});
    RawSocket stranger(node.peer_endpoint());
    for (int i = 0; i < 20; ++i) {
        auto introduction = hello("p" + std::to_string(i), "i", "ipc:///nonexistent/zq-p" + std::to_string(i));
        stranger.say_raw(kHello, introduction);
    }
    zq::Client client(node.endpoint());
    REQUIRE(wait_until([&] {
        auto reply = client.control("peers");
        return reply && zq::packed_to_json(*reply).size() == 3;
    }));
    auto reply = client.control("peers");
    REQUIRE(reply);
    CHECK(zq::packed_to_json(*reply).size() == 3);
    CHECK_THAT(node.log(), Catch::Contains("(max_peers)"));
}

TEST_CASE("a publisher whose numbers jump to 2^40 costs one tracked range, given up when it is lost") {
    // Liveness of 2 s: the made-up publisher stays a peer until its broadcast has arrived.
    NodeProcess node({.name = "solo", .config = "heartbeat_interval = 0.2\nheartbeat_liveness = 10\nfanout_history = 100\n",
                      .min_workers = 1, .max_workers = 1});
    FakePublisher publisher;
    RawSocket peer(node.peer_endpoint());
    zq::BodyWriter introduction;
    introduction.add("node", "far").add("inc", "i1").add("ep", "ipc:///nonexistent/zq-far.sock")
        .add("pub", publisher.endpoint()).add("seq", std::uint64_t{0});
    peer.say(kHello, introduction);
    REQUIRE(publisher.await_subscriber("B"));
    const std::uint64_t jump = std::uint64_t{1} << 40;
    zq::BodyWriter broadcast;
    broadcast.add("id", "far-b").add("task", "zq.echo").add("node", "far").add("inc", "i1").add("seq", jump)
        .add_value("tgts", std::vector<std::string>{"elsewhere"});
    publisher.broadcast(broadcast.finish());

    nlohmann::json far;
    REQUIRE(wait_until([&] {
        far = node.status()["fanout"]["publishers"]["far"];
        return far.is_object() && far["received"] == 1;
    }));
    // Only what the publisher could still keep (fanout_history) is asked for; the rest is lost.
    CHECK(far["missing"].get<std::uint64_t>() <= 100);
    CHECK(far["lost"].get<std::uint64_t>() + far["missing"].get<std::uint64_t>() == jump - 1);
    // It never answers: lost after liveness × interval, and its gaps go with it.
    CHECK(wait_until([&] {
        far = node.status()["fanout"]["publishers"]["far"];
        return far["missing"] == 0 && far["endpoint"] == "";
    }));
    CHECK(far["lost"].get<std::uint64_t>() == jump - 1);
}

TEST_CASE("a connection that floods malformed messages is cut off for a while and counted") {
    NodeProcess node({.name = "solo", .min_workers = 1, .max_workers = 1});
    RawSocket flooder(node.endpoint());
    for (int i = 0; i < 300; ++i) flooder.say_raw(kSubmit, "\xc1");
    int answers = 0;
    while (flooder.next(std::chrono::milliseconds(300))) ++answers;
    CHECK(answers > 0);
    CHECK(answers < 300);
    CHECK(security(node, "malformed_disconnects") == 1);
    // Others are served as before.
    zq::Client client(node.endpoint());
    auto submitted = client.submit(zq::Task("zq.noop"));
    REQUIRE(submitted);
    auto job = client.wait(submitted->id, kDeadline);
    REQUIRE(job);
    CHECK(job->state == zq::JobState::succeeded);
}

TEST_CASE("a node whose --peer names a client port still forms the cluster, and the refused HELLO is counted") {
    auto a = start_peered_node("a", kFastHeartbeats, {}, 1, 1);
    auto b = start_peered_node("b", kFastHeartbeats, {a->endpoint()}, 1, 1);
    REQUIRE(wait_until([&] { return sees_alive(*a, "b") && sees_alive(*b, "a"); }));
    CHECK(security(*a, "peer_commands_refused") >= 1);
    zq::Client client(b->endpoint());
    auto reply = client.control("peers");
    REQUIRE(reply);
    auto peers = zq::packed_to_json(*reply);
    REQUIRE(peers.size() == 1);
    CHECK(peers[0]["endpoint"] == a->peer_endpoint());
    // And jobs cross it.
    zq::Task task("zq.echo");
    task.with_args(std::string("over"));
    task.target = "a";
    auto submitted = client.submit(task);
    REQUIRE(submitted);
    auto job = client.wait(submitted->id, kDeadline);
    REQUIRE(job);
    CHECK(job->state == zq::JobState::succeeded);
    CHECK(job->node == "a");
}
