// CURVE on tcp endpoints, with real nodes on loopback: key files, allow-lists enforced by the
// ZAP handler for clients, peers and subscribers, the refusal to start in the clear, and the
// mode of the ipc socket.
#include "support/cluster.hpp"
#include "support/node_process.hpp"

#include "curve_keys.hpp"

#include <zq/client.hpp>
#include <zq/credentials.hpp>
#include <zq/curve.hpp>
#include <zq/events.hpp>
#include <zq/json.hpp>
#include <zq/wire.hpp>

#include <catch2/catch.hpp>

#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <future>

using namespace zq;
using namespace zq::test;

namespace {

// Key pairs and allow-list directories for one test, under a temporary directory.
class Keys {
public:
    // Makes the pair `name` (DIR/name/secret.key, public.key).
    std::string pair(const std::string& name) {
        std::string dir = root_.path() + "/" + name;
        auto made = node::generate_key_pair(dir);
        REQUIRE(made);
        return dir;
    }
    // An allow-list directory holding the public keys of the pairs named.
    std::string list(const std::string& name, const std::vector<std::string>& pairs) {
        std::string dir = root_.path() + "/" + name;
        std::filesystem::create_directories(dir);
        for (const auto& pair : pairs) {
            std::filesystem::copy_file(root_.path() + "/" + pair + "/public.key", dir + "/" + pair + ".key");
        }
        return dir;
    }
    std::string public_key_file(const std::string& pair) const { return root_.path() + "/" + pair + "/public.key"; }
    Credentials credentials(const std::string& pair, const std::string& server) const {
        auto loaded = load_credentials(root_.path() + "/" + pair, public_key_file(server));
        REQUIRE(loaded);
        return *loaded;
    }

private:
    TempDir root_;
};

std::string security_section(const std::string& key, const std::string& clients, const std::string& peers) {
    std::string text = "[security]\n";
    if (!key.empty()) text += "key = \"" + key + "\"\n";
    if (!clients.empty()) text += "client_keys = \"" + clients + "\"\n";
    if (!peers.empty()) text += "peer_keys = \"" + peers + "\"\n";
    return text;
}

std::uint64_t refused(NodeProcess& node) {
    auto status = node.status();
    return status["security"]["connections_refused"].get<std::uint64_t>();
}

constexpr auto kShortTimeout = std::chrono::milliseconds(1500);

}  // namespace

TEST_CASE("zq-node keygen writes a private secret key and a public key, and never overwrites them") {
    TempDir dir;
    std::string keys = dir.path() + "/node";
    auto made = run_command({ZQ_BIN_DIR "/zq-node", "keygen", keys});
    REQUIRE(made.exit_code == 0);

    struct stat secret {};
    struct stat public_file {};
    REQUIRE(::stat((keys + "/secret.key").c_str(), &secret) == 0);
    REQUIRE(::stat((keys + "/public.key").c_str(), &public_file) == 0);
    CHECK((secret.st_mode & 0777) == 0600);
    std::ifstream public_in(keys + "/public.key");
    std::string public_text((std::istreambuf_iterator<char>(public_in)), std::istreambuf_iterator<char>());
    CHECK(public_text.size() == kCurveKeyText + 1);
    CHECK(public_text.back() == '\n');
    // What it printed is the public key, and it belongs to the secret.
    CHECK(made.out == public_text);
    auto pair = node::load_key_pair(keys);
    REQUIRE(pair);
    CHECK(pair->public_key + "\n" == public_text);

    auto again = run_command({ZQ_BIN_DIR "/zq-node", "keygen", keys});
    CHECK(again.exit_code != 0);
    CHECK_THAT(again.err, Catch::Contains("already exists"));
    auto unchanged = node::load_key_pair(keys);
    REQUIRE(unchanged);
    CHECK(unchanged->secret_key == pair->secret_key);
}

TEST_CASE("a node with keys admits over tcp only clients whose key is listed, and counts the others") {
    Keys keys;
    std::string node_key = keys.pair("node");
    keys.pair("alice");
    keys.pair("mallory");
    std::string clients = keys.list("clients", {"alice"});
    const std::string endpoint = loopback_endpoint(free_tcp_port());
    NodeProcess node({.name = "guarded",
                      .config = security_section(node_key, clients, ""),
                      .extra_args = {"--bind", endpoint}});

    // Without a key: the handshake fails, nothing is ever answered.
    Client anonymous(endpoint);
    auto plain = anonymous.submit(Task("zq.echo").with_args(1), kShortTimeout);
    REQUIRE_FALSE(plain);
    CHECK(plain.error_code() == ErrorCode::unreachable);

    // A key not on the list: refused by the ZAP handler, counted and logged.
    Client stranger(endpoint, keys.credentials("mallory", "node"));
    auto refused_submit = stranger.submit(Task("zq.echo").with_args(2), kShortTimeout);
    REQUIRE_FALSE(refused_submit);
    CHECK(refused_submit.error_code() == ErrorCode::unreachable);
    CHECK(wait_until([&] { return refused(node) >= 1; }));
    CHECK_THAT(node.log(), Catch::Contains("refused a connection"));

    // A listed key: submit and result, as over ipc.
    Client alice(endpoint, keys.credentials("alice", "node"));
    auto submitted = alice.submit(Task("zq.echo").with_args(3));
    REQUIRE(submitted);
    auto job = alice.wait(submitted->id, kDeadline);
    REQUIRE(job);
    CHECK(job->succeeded());
    CHECK(packed_to_json(job->result) == nlohmann::json::array({3}));
    auto status = node.status();
    CHECK(status["security"]["curve"] == true);
    CHECK(status["security"]["public_key"] == node::load_key_pair(node_key)->public_key);
}

TEST_CASE("the zq tools take --key and --server-key") {
    Keys keys;
    std::string node_key = keys.pair("node");
    std::string alice = keys.pair("alice");
    std::string clients = keys.list("clients", {"alice"});
    const std::string endpoint = loopback_endpoint(free_tcp_port());
    NodeProcess node({.name = "tools", .config = security_section(node_key, clients, ""), .extra_args = {"--bind", endpoint}});

    auto sent = run_command({ZQ_BIN_DIR "/zq-send", "zq.echo", "7", "--node", endpoint, "--key", alice, "--server-key",
                             keys.public_key_file("node"), "--wait", "--json"});
    CHECK(sent.exit_code == 0);
    CHECK_THAT(sent.out, Catch::Contains("succeeded"));
    auto status = run_command({ZQ_BIN_DIR "/zq-node", "status", "--node", endpoint, "--key", alice, "--server-key",
                               keys.public_key_file("node"), "--json"});
    CHECK(status.exit_code == 0);
    // A job command takes --key DIR too; a submission with a uniqueness --key names its pair
    // with --client-key.
    const std::string id = nlohmann::json::parse(sent.out)["id"].get<std::string>();
    auto job = run_command({ZQ_BIN_DIR "/zq-send", "status", id, "--node", endpoint, "--key", alice, "--server-key",
                            keys.public_key_file("node"), "--json"});
    CHECK(job.exit_code == 0);
    CHECK_THAT(job.out, Catch::Contains("succeeded"));
    auto unique = run_command({ZQ_BIN_DIR "/zq-send", "zq.echo", "8", "--node", endpoint, "--client-key", alice,
                               "--server-key", keys.public_key_file("node"), "--key", "report-8", "--wait", "--json"});
    CHECK(unique.exit_code == 0);
    CHECK_THAT(unique.out, Catch::Contains("succeeded"));
    // zq-trace follows the node's events over CURVE: jobs are submitted until it has printed one.
    auto trace = std::async(std::launch::async, [&] {
        return run_command({ZQ_BIN_DIR "/zq-trace", "--node", endpoint, "--key", alice, "--server-key",
                            keys.public_key_file("node"), "--events-only", "--state", "succeeded", "--count", "1",
                            "--json", "--timeout", "10"});
    });
    Client client(endpoint, keys.credentials("alice", "node"));
    while (trace.wait_for(std::chrono::milliseconds(100)) != std::future_status::ready) {
        REQUIRE(client.submit(Task("zq.echo").with_args(9), std::chrono::milliseconds(2000)));
    }
    auto traced = trace.get();
    INFO(traced.err);
    CHECK(traced.exit_code == 0);
    CHECK_THAT(traced.out, Catch::Contains("succeeded"));
    auto without = run_command({ZQ_BIN_DIR "/zq-node", "status", "--node", endpoint, "--json"}, kDeadline);
    CHECK(without.exit_code == 3);
    auto bench = run_command({ZQ_BIN_DIR "/zq-bench", "--node", endpoint, "--key", alice, "--server-key",
                              keys.public_key_file("node"), "-n", "50", "--window", "10", "--round-trips", "10", "--json"});
    CHECK(bench.exit_code == 0);
}

TEST_CASE("a peer whose key is not in peer_keys is refused; with the right keys the cluster forms and forwards") {
    Keys keys;
    std::string key_a = keys.pair("a");
    std::string key_b = keys.pair("b");
    const std::string endpoint_a = loopback_endpoint(free_tcp_port());
    const std::string endpoint_b = loopback_endpoint(free_tcp_port());

    SECTION("b does not list a's key: the cluster does not form") {
        std::string peers_of_a = keys.list("peers-of-a", {"b"});
        std::string peers_of_b = keys.list("peers-of-b", {"b"});
        NodeProcess b({.name = "b",
                       .config = std::string(kFastHeartbeats) + security_section(key_b, "", peers_of_b),
                       .extra_args = {"--bind", endpoint_b}});
        NodeProcess a({.name = "a",
                       .config = std::string(kFastHeartbeats) + security_section(key_a, "", peers_of_a),
                       .extra_args = {"--bind", endpoint_a, "--peer", endpoint_b}});
        // a connects to say HELLO with its key; b's ZAP handler refuses the connection.
        INFO(a.log() + b.log());
        REQUIRE(wait_until([&] { return refused(b) >= 1; }));
        CHECK_FALSE(sees_alive(a, "b"));
        CHECK_FALSE(sees_alive(b, "a"));
        CHECK_THAT(b.log(), Catch::Contains("is not in the allow-list"));
    }
    SECTION("both list each other: the cluster forms and a job forwards to b") {
        // A third key in the list: a tries the keys in turn until b answers.
        keys.pair("c");
        std::string peers = keys.list("peers", {"a", "b", "c"});
        NodeProcess b({.name = "b",
                       .config = std::string(kFastHeartbeats) + security_section(key_b, "", peers),
                       .extra_args = {"--bind", endpoint_b}});
        NodeProcess a({.name = "a",
                       .config = std::string(kFastHeartbeats) + security_section(key_a, "", peers),
                       .extra_args = {"--bind", endpoint_a, "--peer", endpoint_b}});
        REQUIRE(wait_until([&] { return sees_alive(a, "b") && sees_alive(b, "a"); }));
        // Each learned the other's key from the authenticated HELLO or WELCOME.
        bool key_known = false;
        Client client(a.endpoint());
        auto peers_reply = client.control("peers");
        REQUIRE(peers_reply);
        for (const auto& peer : packed_to_json(*peers_reply)) {
            if (peer["name"] == "b") key_known = peer["key"] == node::load_key_pair(key_b)->public_key;
        }
        CHECK(key_known);
        Task task("zq.echo");
        task.with_args("forwarded");
        task.target = "b";
        auto submitted = client.submit(task);
        REQUIRE(submitted);
        auto job = client.wait(submitted->id, kDeadline);
        REQUIRE(job);
        CHECK(job->succeeded());
        CHECK(job->node == "b");
    }
}

TEST_CASE("a HELLO whose key is not its connection's, or a peer command from a client key, is refused") {
    Keys keys;
    std::string node_key = keys.pair("node");
    keys.pair("peer");
    keys.pair("other");
    keys.pair("alice");
    std::string clients = keys.list("clients", {"alice"});
    std::string peers = keys.list("peers", {"peer", "other"});
    const std::string endpoint = loopback_endpoint(free_tcp_port());
    const std::string peer_endpoint = loopback_endpoint(free_tcp_port());
    NodeProcess node({.name = "guarded",
                      .config = security_section(node_key, clients, peers),
                      .extra_args = {"--bind", endpoint, "--peer-bind", peer_endpoint}});

    zmq::context_t context;
    auto connect_as = [&](const std::string& pair, const std::string& to) {
        zmq::socket_t socket(context, zmq::socket_type::dealer);
        socket.set(zmq::sockopt::linger, 0);
        prepare_connection(socket, to, keys.credentials(pair, "node"));
        socket.connect(to);
        return socket;
    };
    // On the peer port, the peer key "peer" claims to be "other".
    zmq::socket_t impostor = connect_as("peer", peer_endpoint);
    BodyWriter hello;
    hello.add(protocol::field::node, "impostor")
        .add(protocol::field::incarnation, "1")
        .add(protocol::field::endpoint, "tcp://127.0.0.1:1")
        .add(protocol::field::key, keys.credentials("other", "node").public_key);
    REQUIRE(wait_until([&] { return send_message(impostor, protocol::Command::hello, hello.finish()); }));
    REQUIRE(wait_until([&] { return node.status()["security"]["peer_keys_refused"].get<int>() >= 1; }));
    CHECK_THAT(node.log(), Catch::Contains("but its connection's key is"));

    // A client key may not speak for a peer.
    zmq::socket_t client = connect_as("alice", endpoint);
    BodyWriter forward;
    forward.add(protocol::field::node, "guarded-peer").add(protocol::field::id, "stolen");
    REQUIRE(wait_until([&] { return send_message(client, protocol::Command::taken, forward.finish()); }));
    std::optional<Received> reply;
    REQUIRE(wait_until([&] { return (reply = receive_message(client, false)).has_value(); }));
    REQUIRE(reply->message);
    CHECK(reply->message->command() == protocol::Command::rejected);
    CHECK_THAT(std::string(reply->message->string(protocol::field::reason).value_or("")),
               Catch::Contains("peer command on the client port"));
    CHECK(node.status()["peers"].is_null());
}

TEST_CASE("a subscriber without a key receives nothing; one with a listed key receives events") {
    Keys keys;
    std::string node_key = keys.pair("node");
    keys.pair("alice");
    std::string clients = keys.list("clients", {"alice"});
    const std::string endpoint = loopback_endpoint(free_tcp_port());
    NodeProcess node({.name = "fanout", .config = security_section(node_key, clients, ""), .extra_args = {"--bind", endpoint}});
    std::string publisher = node.status()["fanout"]["endpoint"].get<std::string>();
    REQUIRE(publisher.starts_with("tcp://"));

    Subscription anonymous;
    anonymous.publishers = {publisher};
    anonymous.timeout = kShortTimeout;
    auto refused_events = Events::open(anonymous);
    REQUIRE_FALSE(refused_events);
    CHECK(refused_events.error_code() == ErrorCode::unreachable);

    Subscription keyed;
    keyed.nodes = {endpoint};
    keyed.credentials = keys.credentials("alice", "node");
    keyed.filter.tap = false;
    auto events = Events::open(keyed);
    REQUIRE(events);
    Client alice(endpoint, keys.credentials("alice", "node"));
    auto submitted = alice.submit(Task("zq.echo").with_args(1));
    REQUIRE(submitted);
    bool seen = false;
    auto ran = events->run(
        [&](const Event& event) {
            seen = event.id == submitted->id && event.state == "succeeded";
            return !seen;
        },
        kDeadline);
    REQUIRE(ran);
    CHECK(seen);
}

TEST_CASE("allow-lists without a key of the node's own refuse to start with tcp, unless insecure_tcp") {
    Keys keys;
    keys.pair("alice");
    std::string clients = keys.list("clients", {"alice"});
    TempDir dir;
    std::string config = dir.path() + "/node.toml";
    {
        std::ofstream out(config);
        out << security_section("", clients, "");
    }
    const std::string endpoint = loopback_endpoint(free_tcp_port());
    auto refused_start = run_command({ZQ_BIN_DIR "/zq-node", "run", "--config", config, "--data", dir.path() + "/data",
                                      "--bind", endpoint, "--min-workers", "1"});
    CHECK(refused_start.exit_code == 1);
    CHECK_THAT(refused_start.err, Catch::Contains("would run without CURVE"));
    CHECK_THAT(refused_start.err, Catch::Contains("insecure_tcp = true"));

    NodeProcess insecure({.name = "insecure",
                          .config = security_section("", clients, "") + "insecure_tcp = true\n",
                          .extra_args = {"--bind", endpoint}});
    Client plain(endpoint);
    auto status = plain.control("status");
    CHECK(status);
    CHECK_THAT(insecure.log(), Catch::Contains("insecure_tcp = true"));
}

TEST_CASE("the ipc socket has mode 0660 by default, and ipc_mode and ipc_group set it") {
    auto mode_of = [](const std::string& path) {
        struct stat info {};
        REQUIRE(::stat(path.c_str(), &info) == 0);
        return info.st_mode & 0777;
    };
    NodeProcess plain({.name = "plain"});
    CHECK(mode_of(plain.data_dir() + "/node.sock") == 0660);
    CHECK(mode_of(plain.data_dir()) == 0700);

    struct group* own = ::getgrgid(::getgid());
    REQUIRE(own != nullptr);
    NodeProcess grouped({.name = "grouped",
                         .config = "[security]\nipc_mode = \"0600\"\nipc_group = \"" + std::string(own->gr_name) + "\"\n"});
    CHECK(mode_of(grouped.data_dir() + "/node.sock") == 0600);
    // The group may pass through the data directory to reach the socket, not list it.
    CHECK(mode_of(grouped.data_dir()) == 0710);
}
