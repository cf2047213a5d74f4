// The peer outbox without a network: what an origin and an owner must send again, to whom,
// and when they may stop.
#include "peer_outbox.hpp"

#include <catch2/catch.hpp>

#include <set>

using zq::node::PeerMessage;
using zq::node::PeerOutbox;
using zq::protocol::Command;

namespace {

constexpr std::int64_t kInterval = 1000;

PeerOutbox::Alive alive_except(std::set<std::string> down = {}) {
    return [down = std::move(down)](std::string_view node) { return down.count(std::string(node)) == 0; };
}

PeerMessage forward(const std::string& node, const std::string& id) { return {node, Command::forward, "F" + id}; }

}  // namespace

TEST_CASE("a FORWARD is sent again once an interval has passed without TAKEN, and not after TAKEN") {
    PeerOutbox outbox;
    outbox.forwarded("j1", forward("b", "j1"), 10'000);
    CHECK(outbox.awaiting_taken("j1"));
    CHECK(outbox.due(10'500, kInterval, alive_except()).empty());

    auto due = outbox.due(11'000, kInterval, alive_except());
    REQUIRE(due.size() == 1);
    CHECK(due[0] == forward("b", "j1"));
    // Stamped as sent again: the next resend waits another interval.
    CHECK(outbox.due(11'500, kInterval, alive_except()).empty());

    CHECK(outbox.taken("j1"));
    CHECK_FALSE(outbox.taken("j1"));
    CHECK_FALSE(outbox.awaiting_taken("j1"));
    CHECK(outbox.due(20'000, kInterval, alive_except()).empty());
}

TEST_CASE("nothing is sent to a peer that is not alive, and it is sent once the peer is back") {
    PeerOutbox outbox;
    outbox.forwarded("j1", forward("b", "j1"), 0);
    outbox.cancel_sent("j2", {"b", Command::cancel, "C"});
    outbox.reported("j3", {"c", Command::state, "S"});
    CHECK(outbox.due(5000, kInterval, alive_except({"b", "c"})).empty());

    auto due = outbox.due(6000, kInterval, alive_except({"c"}));
    CHECK(due == std::vector<PeerMessage>{forward("b", "j1"), {"b", Command::cancel, "C"}});
}

TEST_CASE("a CANCEL goes with every resend until the job is forgotten") {
    PeerOutbox outbox;
    outbox.cancel_sent("j", {"b", Command::cancel, "C"});
    CHECK(outbox.tracks("j"));
    CHECK(outbox.due(0, kInterval, alive_except()).size() == 1);
    CHECK(outbox.due(1, kInterval, alive_except()).size() == 1);
    outbox.forget("j");
    CHECK_FALSE(outbox.tracks("j"));
    CHECK(outbox.due(2, kInterval, alive_except()).empty());
}

TEST_CASE("forgetting a job at the origin drops its FORWARD and CANCEL, never an owner's report") {
    PeerOutbox outbox;
    outbox.forwarded("j", forward("b", "j"), 0);
    outbox.cancel_sent("j", {"b", Command::cancel, "C"});
    outbox.reported("r", {"a", Command::state, "S"});
    outbox.forget("j");
    outbox.forget("r");
    CHECK_FALSE(outbox.tracks("j"));
    CHECK(outbox.due(10'000, kInterval, alive_except()) == std::vector<PeerMessage>{{"a", Command::state, "S"}});
}

TEST_CASE("an owner's report is kept until the origin acknowledges it, and can be looked up to answer again") {
    PeerOutbox outbox;
    outbox.reported("j", {"a", Command::state, "S1"});
    REQUIRE(outbox.report("j") != nullptr);
    CHECK(outbox.report("j")->body == "S1");
    CHECK(outbox.unacknowledged() == 1);
    CHECK(outbox.due(0, kInterval, alive_except()).size() == 1);

    CHECK(outbox.acknowledged("j"));
    CHECK_FALSE(outbox.acknowledged("j"));
    CHECK(outbox.report("j") == nullptr);
    CHECK(outbox.due(0, kInterval, alive_except()).empty());
}
