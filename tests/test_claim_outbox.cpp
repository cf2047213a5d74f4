// The claim outbox (claim_outbox.hpp): at an origin, claims waiting for their home, batched per
// home, sent again until answered and sent to a new home when the old one goes.
#include "claim_outbox.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

using zq::node::ClaimOutbox;

namespace {

constexpr std::size_t kBatchBytes = 1 << 19;
constexpr std::int64_t kInterval = 1000;

bool everyone_alive(std::string_view) { return true; }

std::vector<std::string> sorted(std::vector<std::string> ids) {
    std::sort(ids.begin(), ids.end());
    return ids;
}

}  // namespace

TEST_CASE("the claims of a turn go out as one batch per home") {
    ClaimOutbox outbox("a");
    outbox.add("1", "b");
    outbox.add("2", "c");
    outbox.add("3", "b");
    CHECK(outbox.has_unsent());
    auto batches = outbox.take_unsent(100, kBatchBytes);
    REQUIRE(batches.size() == 2);
    CHECK(batches[0].home == "b");
    CHECK(batches[0].ids == std::vector<std::string>{"1", "3"});
    CHECK(batches[1].home == "c");
    CHECK(batches[1].ids == std::vector<std::string>{"2"});
    CHECK_FALSE(outbox.has_unsent());
    CHECK(outbox.take_unsent(100, kBatchBytes).empty());
    CHECK(outbox.size() == 3);
}

TEST_CASE("a claim homed at this node, or nowhere yet, is not sent") {
    ClaimOutbox outbox("a");
    outbox.add("mine", "a");
    outbox.add("unknown", "");
    CHECK(outbox.take_unsent(100, kBatchBytes).empty());
    CHECK(outbox.take_due(100 + kInterval, kInterval, everyone_alive, kBatchBytes).empty());
    CHECK(outbox.holds("mine"));
    CHECK(outbox.holds("unknown"));
}

TEST_CASE("a batch is cut when its ids would pass the size limit") {
    ClaimOutbox outbox("a");
    for (int i = 0; i < 10; ++i) outbox.add(std::string(95, char('0' + i)), "b");
    auto batches = outbox.take_unsent(100, 300);  // 100 bytes per id with its header
    REQUIRE(batches.size() == 4);
    CHECK(batches[0].ids.size() == 3);
    CHECK(batches[3].ids.size() == 1);
    std::size_t total = 0;
    for (const auto& batch : batches) {
        CHECK(batch.home == "b");
        total += batch.ids.size();
    }
    CHECK(total == 10);
}

TEST_CASE("an unanswered claim is sent again each interval while its home is alive") {
    ClaimOutbox outbox("a");
    outbox.add("1", "b");
    outbox.add("2", "c");
    outbox.take_unsent(100, kBatchBytes);
    CHECK(outbox.take_due(100 + kInterval - 1, kInterval, everyone_alive, kBatchBytes).empty());
    auto only_b = [](std::string_view node) { return node == "b"; };
    auto due = outbox.take_due(100 + kInterval, kInterval, only_b, kBatchBytes);
    REQUIRE(due.size() == 1);
    CHECK(due[0].home == "b");
    CHECK(due[0].ids == std::vector<std::string>{"1"});
    // Stamped as sent again: not due before another interval.
    CHECK(outbox.take_due(100 + kInterval + 10, kInterval, only_b, kBatchBytes).empty());
}

TEST_CASE("the answer resolves a claim once and hands over the clients waiting for it") {
    ClaimOutbox outbox("a");
    outbox.add("1", "b");
    outbox.add_waiter("1", {"client-1", false});
    outbox.add_waiter("1", {"client-2", true});
    auto waiters = outbox.resolve("1");
    REQUIRE(waiters);
    REQUIRE(waiters->size() == 2);
    CHECK((*waiters)[0].client == "client-1");
    CHECK_FALSE((*waiters)[0].duplicate);
    CHECK((*waiters)[1].duplicate);
    // The answer to the same claim sent twice finds nothing.
    CHECK_FALSE(outbox.resolve("1"));
    CHECK(outbox.empty());
}

TEST_CASE("a forgotten claim is neither sent nor resolved") {
    ClaimOutbox outbox("a");
    outbox.add("1", "b");
    outbox.forget("1");
    CHECK(outbox.take_unsent(100, kBatchBytes).empty());
    CHECK_FALSE(outbox.resolve("1"));
}

TEST_CASE("when homes change, only claims whose home changed are sent again, and those homed here come back") {
    ClaimOutbox outbox("a");
    outbox.add("to-b", "b");
    outbox.add("to-c", "c");
    outbox.add("undecided", "");
    outbox.take_unsent(100, kBatchBytes);

    // c was lost: its claims go to b, and one of them comes home to this node.
    auto here = outbox.rehome([](std::string_view id) -> std::string {
        if (id == "to-c") return "b";
        if (id == "undecided") return "a";
        return "b";
    });
    CHECK(here == std::vector<std::string>{"undecided"});
    auto batches = outbox.take_unsent(200, kBatchBytes);
    REQUIRE(batches.size() == 1);
    CHECK(batches[0].home == "b");
    CHECK(sorted(batches[0].ids) == std::vector<std::string>{"to-c"});
    // "to-b" keeps its schedule: due one interval after it was first sent.
    auto due = outbox.take_due(100 + kInterval, kInterval, everyone_alive, kBatchBytes);
    REQUIRE(due.size() == 1);
    CHECK(due[0].ids == std::vector<std::string>{"to-b"});
}
