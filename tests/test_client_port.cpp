// The node's client port under bad input: every malformed message gets REJECTED with a
// reason, is counted in status, and the node goes on serving.
#include "support/node_process.hpp"
#include "support/raw_dealer.hpp"

#include <zq/codec.hpp>
#include <zq/json.hpp>

#include <catch2/catch.hpp>

#include <limits>
#include <string>
#include <vector>

using namespace zq::test;

namespace {

// Sends raw frames and returns the REJECTED reason the node answers with.
std::string rejection_for(RawDealer& dealer, const std::vector<std::string>& frames) {
    dealer.send_frames(frames);
    auto reply = dealer.receive_frames();
    if (!reply) return "no answer";
    if (reply->size() != 3 || (*reply)[1] != std::string(1, '\x12')) return "not a REJECTED";
    auto message = zq::decode((*reply)[0], (*reply)[1], (*reply)[2]);
    REQUIRE(message);
    return std::string(message->string(zq::protocol::field::reason).value_or(""));
}

}  // namespace

TEST_CASE("malformed messages are rejected with a reason and counted, and the node keeps serving") {
    NodeProcess node;
    RawDealer dealer(node.endpoint());

    std::string submit(1, '\x10');
    CHECK_THAT(rejection_for(dealer, {"HTTP", submit, "\x80"}), Catch::Contains("wrong protocol header"));
    CHECK_THAT(rejection_for(dealer, {"ZQP1", std::string(1, '\x7e'), "\x80"}), Catch::Contains("unknown command"));
    CHECK_THAT(rejection_for(dealer, {"ZQP1", submit, "\xc1\xc1"}), Catch::Contains("malformed"));
    CHECK_THAT(rejection_for(dealer, {"ZQP1", submit, "\x80"}), Catch::Contains("missing field 'id'"));
    CHECK_THAT(rejection_for(dealer, {"ZQP1", submit}), Catch::Contains("3 frames"));
    CHECK_THAT(rejection_for(dealer, {"ZQP1", submit, std::string(2 << 20, 'x')}), Catch::Contains("exceeds"));
    std::string deep(200, '\x91');
    deep += '\xc0';
    zq::BodyWriter body;
    body.add("id", "x").add("task", "t").add_packed("args", deep);
    CHECK_THAT(rejection_for(dealer, {"ZQP1", submit, std::string(body.finish())}), Catch::Contains("nesting"));
    // A client may not speak for a peer.
    zq::BodyWriter taken;
    taken.add("id", "x").add("node", "n");
    CHECK_THAT(rejection_for(dealer, {"ZQP1", std::string(1, '\x14'), std::string(taken.finish())}),
               Catch::StartsWith("peer command on the client port"));

    auto status = node.status();
    CHECK(status["messages"]["malformed"] == 7);

    zq::Client client(node.endpoint());
    auto submitted = client.submit(zq::Task("zq.noop"));
    REQUIRE(submitted);
    auto job = client.wait(submitted->id, kDeadline);
    REQUIRE(job);
    CHECK(job->state == zq::JobState::succeeded);
}

TEST_CASE("fanout commands from a client are refused with a reason, and '@' ids are refused") {
    NodeProcess node({.name = "solo", .min_workers = 1, .max_workers = 1});
    RawDealer dealer(node.endpoint());

    // REPAIR and GONE are peer commands: refused on the client port, however absurd the range.
    zq::BodyWriter repair;
    repair.add("node", "intruder").add("inc", "x").add("from", std::uint64_t{1}).add("to", ~std::uint64_t{0});
    CHECK_THAT(rejection_for(dealer, {"ZQP1", std::string(1, '\x33'), std::string(repair.finish())}),
               Catch::StartsWith("peer command on the client port"));
    zq::BodyWriter gone;
    gone.add("node", "intruder").add("inc", "x").add("from", std::uint64_t{9}).add("to", std::uint64_t{1});
    CHECK_THAT(rejection_for(dealer, {"ZQP1", std::string(1, '\x34'), std::string(gone.finish())}),
               Catch::StartsWith("peer command on the client port"));
    // A published broadcast (it names its targets) is accepted only on the peer port.
    zq::BodyWriter published;
    published.add("id", "b1").add("task", "zq.noop").add("node", "intruder").add_value("tgts", std::vector<std::string>{"solo"});
    CHECK_THAT(rejection_for(dealer, {"ZQP1", std::string(1, '\x30'), std::string(published.finish())}),
               Catch::StartsWith("peer command on the client port"));
    // EVENT and TAP go out on the PUB socket only.
    zq::BodyWriter event;
    event.add("node", "solo").add("seq", std::uint64_t{1});
    CHECK_THAT(rejection_for(dealer, {"ZQP1", std::string(1, '\x31'), std::string(event.finish())}),
               Catch::StartsWith("not a request: EVENT"));
    // Ids with '@' are reserved for broadcast runs.
    zq::BodyWriter submit;
    submit.add("id", "job@solo").add("task", "zq.noop");
    CHECK_THAT(rejection_for(dealer, {"ZQP1", std::string(1, '\x10'), std::string(submit.finish())}),
               Catch::Contains("may not contain '@'"));

    zq::Client client(node.endpoint());
    auto status = client.control("status");
    REQUIRE(status);
    auto fanout = zq::packed_to_json(*status)["fanout"];
    CHECK(fanout["publishers"].empty());
    CHECK(fanout["published"]["broadcast"] == 0);
}

TEST_CASE("a client naming a peer \"\" in HELLO and DISCONNECT reaps nothing and the node keeps serving") {
    NodeProcess node({.name = "solo", .min_workers = 1, .max_workers = 1});
    zq::Client client(node.endpoint());
    RunningJob running = occupy_worker(node, client);
    std::vector<std::string> queued;
    for (int i = 0; i < 3; ++i) {
        auto submitted = client.submit(zq::Task("zq.noop"));
        REQUIRE(submitted);
        queued.push_back(submitted->id);
    }

    RawDealer dealer(node.endpoint());
    auto say = [&](char command, zq::BodyWriter& body) { dealer.send(static_cast<std::uint8_t>(command), body.finish()); };
    zq::BodyWriter hello;
    hello.add("node", "").add("inc", "forged").add("ep", "ipc:///nonexistent/zq-forged.sock");
    say('\x01', hello);
    zq::BodyWriter goodbye;
    goodbye.add("node", "").add("inc", "forged");
    say('\x04', goodbye);

    // Status reads every job the node holds: it must still answer, with nothing reaped.
    for (int i = 0; i < 3; ++i) {
        auto status = node.status();
        CHECK(status["jobs"]["failed"] == 0);
        CHECK(status["jobs"]["error"] == 0);
    }
    auto job = client.status(running.id);
    REQUIRE(job);
    CHECK(job->state == zq::JobState::running);
    REQUIRE(client.cancel(running.id));
    require_all_succeeded(client, queued);
}

TEST_CASE("a frame a little over 4 MiB is refused with a reason on a connection that stays usable") {
    NodeProcess node({.name = "solo", .min_workers = 1, .max_workers = 1});
    RawDealer dealer(node.endpoint());

    // Over max_message_bytes (1 MiB) and over 4 MiB, within the transport's bound (16 MiB).
    zq::BodyWriter big;
    big.add("id", "big").add("task", "zq.noop").add("pad", std::string((4 << 20) + 4096, 'x'));
    CHECK_THAT(rejection_for(dealer, {"ZQP1", std::string(1, '\x10'), std::string(big.finish())}),
               Catch::Contains("exceeds the limit of 1048576"));
    // The same connection is answered again.
    zq::BodyWriter status;
    status.add("op", "status");
    dealer.send(0x20, status.finish());
    auto frames = dealer.receive_frames();
    REQUIRE(frames);
    const std::vector<std::string>& reply = *frames;
    REQUIRE(reply.size() == 3);
    CHECK(reply[1] == std::string(1, '\x21'));
    auto counts = node.status()["messages"];
    CHECK(counts["malformed"] == 1);
    CHECK(counts["rejected_by"]["malformed message"] == 1);
}

TEST_CASE("a job that returned nothing has res nil, and a reply to a request without rid has no rid") {
    NodeProcess node({.name = "solo", .min_workers = 1, .max_workers = 1});
    zq::Client client(node.endpoint());
    auto submitted = client.submit(zq::Task("zq.noop"));
    REQUIRE(submitted);
    auto job = client.wait(submitted->id, kDeadline);
    REQUIRE(job);
    CHECK(job->state == zq::JobState::succeeded);
    CHECK(job->result == std::string("\xc0", 1));

    RawDealer dealer(node.endpoint());
    zq::BodyWriter ask;
    ask.add("op", "job").add("id", submitted->id);
    dealer.send(0x20, ask.finish());
    auto frames = dealer.receive_frames();
    REQUIRE(frames);
    const std::vector<std::string>& reply = *frames;
    REQUIRE(reply.size() == 3);
    auto body = zq::packed_to_json(reply[2]);
    CHECK_FALSE(body.contains("rid"));
    CHECK(body["ok"] == true);
    REQUIRE(body["data"].contains("res"));
    CHECK(body["data"]["res"].is_null());
}

TEST_CASE("an infinite or out-of-range time limit or retry delay is refused as a bad task, and counted") {
    NodeProcess node({.name = "solo", .min_workers = 1, .max_workers = 1});
    RawDealer dealer(node.endpoint());
    const double infinity = std::numeric_limits<double>::infinity();
    for (const char* field : {"hard", "soft", "rdelay"}) {
        INFO(field);
        zq::BodyWriter submit;
        submit.add("id", std::string("inf-") + field).add("task", "zq.noop").add(field, infinity);
        CHECK_THAT(rejection_for(dealer, {"ZQP1", std::string(1, '\x10'), std::string(submit.finish())}),
                   Catch::StartsWith(std::string("bad task: field '") + field + "' must be a finite number"));
    }
    zq::BodyWriter nil_queue;
    nil_queue.add("id", "nil-queue").add("task", "zq.noop").add_packed("q", std::string("\xc0", 1));
    CHECK_THAT(rejection_for(dealer, {"ZQP1", std::string(1, '\x10'), std::string(nil_queue.finish())}),
               Catch::Contains("field 'q' must be string, got nil"));
    zq::BodyWriter bad_text;
    bad_text.add("id", "job-\xff\xfe").add("task", "zq.noop");
    auto refused = rejection_for(dealer, {"ZQP1", std::string(1, '\x10'), std::string(bad_text.finish())});
    CHECK_THAT(refused, Catch::Contains("not valid UTF-8"));
    CHECK(zq::valid_utf8(refused));  // the reason does not echo the bad bytes

    auto status = node.status();
    CHECK(status["messages"]["rejected_by"]["bad task"] == 3);
    CHECK(status["messages"]["rejected_by"]["malformed message"] == 2);
    CHECK(status["jobs"]["succeeded"] == 0);
    CHECK(status["pending"] == 0);
}
