// The broadcast collector without a cluster: outcomes recorded node by node, the verdict when
// the last one is in, the bound on a result kept, and who hears the broadcast again.
#include "broadcast_collector.hpp"

#include <zq/codec.hpp>

#include <catch2/catch.hpp>

using zq::JobState;
using zq::node::BroadcastCollector;
using zq::node::Outcome;
using zq::node::Outcomes;
using zq::node::pack_outcomes;
using zq::node::pending_outcomes;
using zq::node::unpack_outcomes;
using Kind = BroadcastCollector::Recorded::Kind;

namespace {

constexpr std::size_t kMessageBytes = 1 << 20;

std::string packed_string(const std::string& text) { return zq::pack(text); }

}  // namespace

TEST_CASE("run ids name the broadcast and the node, split at the first '@'") {
    CHECK(zq::node::run_id("b1", "node-a") == "b1@node-a");
    CHECK(zq::node::broadcast_of_run("b1@node-a") == "b1");
    CHECK(zq::node::broadcast_of_run("plain-job").empty());
}

TEST_CASE("outcomes packed as a broadcast's result unpack to the same outcomes") {
    Outcomes outcomes = pending_outcomes({"a", "b", "c"});
    outcomes["a"] = Outcome{JobState::succeeded, packed_string("ok"), {}};
    outcomes["b"] = Outcome{JobState::failed, {}, "boom"};
    CHECK(unpack_outcomes(pack_outcomes(outcomes)) == outcomes);
    CHECK(unpack_outcomes("not msgpack at all").empty());
}

TEST_CASE("a broadcast stays open until every target has an outcome, then succeeds if all did") {
    BroadcastCollector collector("a", kMessageBytes);
    collector.open("b1", pending_outcomes({"a", "b"}));
    auto first = collector.record("b1", "a", JobState::succeeded, packed_string("x"), {});
    CHECK(first.kind == Kind::open);
    CHECK(unpack_outcomes(first.outcomes).at("a").state == JobState::succeeded);
    CHECK(unpack_outcomes(first.outcomes).at("b").state == JobState::pending);

    auto last = collector.record("b1", "b", JobState::succeeded, packed_string("y"), {});
    CHECK(last.kind == Kind::complete);
    CHECK(last.state == JobState::succeeded);
    CHECK(last.explanation.empty());
    CHECK_FALSE(collector.holds("b1"));
    // Anything after the end is late.
    CHECK(collector.record("b1", "b", JobState::failed, {}, "late").kind == Kind::unknown);
}

TEST_CASE("a broadcast where some node did not succeed fails with an explanation naming them") {
    BroadcastCollector collector("a", kMessageBytes);
    collector.open("b1", pending_outcomes({"a", "b", "c"}));
    collector.record("b1", "a", JobState::succeeded, {}, {});
    collector.record("b1", "b", JobState::failed, {}, "disk full");
    auto recorded = collector.record("b1", "c", JobState::canceled, {}, {});
    CHECK(recorded.kind == Kind::complete);
    CHECK(recorded.state == JobState::failed);
    CHECK(recorded.explanation == "2 of 3 nodes did not succeed: b: failed (disk full); c: canceled");
}

TEST_CASE("an outcome is recorded once, and only for a target of the broadcast") {
    BroadcastCollector collector("a", kMessageBytes);
    collector.open("b1", pending_outcomes({"a", "b"}));
    CHECK(collector.record("b1", "z", JobState::succeeded, {}, {}).kind == Kind::ignored);
    CHECK(collector.record("b1", "b", JobState::failed, {}, "first").kind == Kind::open);
    CHECK(collector.record("b1", "b", JobState::succeeded, {}, {}).kind == Kind::ignored);
    CHECK(collector.outcomes("b1")->at("b").error == "first");
}

TEST_CASE("a result too large for its share of a message is left out with a pointer to the run") {
    // Two targets share half of 1000 bytes: 250 each.
    BroadcastCollector collector("a", 1000);
    collector.open("b1", pending_outcomes({"a", "b"}));
    std::string big = packed_string(std::string(300, 'x'));
    collector.record("b1", "b", JobState::succeeded, big, {});
    const Outcome& kept = collector.outcomes("b1")->at("b");
    CHECK(kept.result.empty());
    CHECK(kept.error ==
          "result of " + std::to_string(big.size()) + " bytes left out here; `zq-send status b1@b` on b shows it");
    std::string small = packed_string("fits");
    auto recorded = collector.record("b1", "a", JobState::succeeded, small, {});
    CHECK(unpack_outcomes(recorded.outcomes).at("a").result == small);
}

TEST_CASE("targets that have not taken their run hear the broadcast again after an interval") {
    BroadcastCollector collector("a", kMessageBytes);
    collector.open("b1", pending_outcomes({"a", "b", "c"}));
    collector.sent("b1", 1000);
    CHECK(collector.due(1500, 1000).empty());

    auto due = collector.due(2000, 1000);
    REQUIRE(due.size() == 1);
    CHECK(due[0].id == "b1");
    // The origin's own run reports in memory; it never needs the broadcast sent.
    CHECK(due[0].nodes == std::vector<std::string>{"b", "c"});

    auto run = collector.run_of("b1@b");
    REQUIRE(run.has_value());
    CHECK(run->broadcast == "b1");
    CHECK(run->node == "b");
    collector.taken(*run);
    collector.record("b1", "c", JobState::succeeded, {}, {});
    CHECK(collector.due(10'000, 1000).empty());
    CHECK_FALSE(collector.run_of("other@b").has_value());
}

TEST_CASE("after a restart the targets still pending are owed the broadcast and can be reaped") {
    Outcomes journaled = pending_outcomes({"a", "b", "c"});
    journaled["b"] = Outcome{JobState::succeeded, {}, {}};
    BroadcastCollector collector("a", kMessageBytes);
    collector.restore("b1", pack_outcomes(journaled));
    CHECK(collector.pending_nodes() == std::set<std::string>{"c"});
    CHECK(collector.waiting_for("c") == std::vector<std::string>{"b1"});
    CHECK(collector.waiting_for("b").empty());
    auto due = collector.due(1'000'000, 1000);
    REQUIRE(due.size() == 1);
    CHECK(due[0].nodes == std::vector<std::string>{"c"});

    collector.drop("b1");
    CHECK(collector.size() == 0);
}
