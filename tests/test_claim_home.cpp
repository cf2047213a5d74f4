// The home of a job id (claim_home.hpp): a pure function, tested without any process.
#include "claim_home.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

using zq::node::claim_home;
using zq::node::claim_weight;

namespace {

// Ids shaped like the ones clients make (UUIDv7 text) and like a schedule's deterministic
// ones, which differ only in their last characters.
std::vector<std::string> sample_ids(std::size_t count) {
    std::vector<std::string> ids;
    for (std::size_t i = 0; i < count; ++i) {
        char uuid[40];
        std::snprintf(uuid, sizeof uuid, "0190a1b2-c3d4-7e5f-8a6b-%012zx", i * 7919);
        ids.emplace_back(i % 2 ? std::string(uuid) : "nightly-report:" + std::to_string(1700000000 + i * 60));
    }
    return ids;
}

std::map<std::string, std::size_t> homes_of(const std::vector<std::string>& ids, const std::string& self,
                                            const std::vector<std::string>& peers) {
    std::map<std::string, std::size_t> counts;
    for (const auto& id : ids) ++counts[claim_home(id, self, peers)];
    return counts;
}

}  // namespace

TEST_CASE("with no live peers every id's home is this node") {
    for (const auto& id : sample_ids(100)) CHECK(claim_home(id, "a", {}) == "a");
}

TEST_CASE("every node that sees the same members picks the same home, whatever the order") {
    const std::vector<std::string> members{"a", "b", "c", "d"};
    for (const auto& id : sample_ids(500)) {
        INFO(id);
        const std::string expected = claim_home(id, "a", {"b", "c", "d"});
        // Each node computes it with itself as `self` and the others as peers, in any order.
        for (const auto& self : members) {
            std::vector<std::string> peers;
            for (const auto& other : members) {
                if (other != self) peers.push_back(other);
            }
            std::sort(peers.begin(), peers.end());
            do {
                CHECK(claim_home(id, self, peers) == expected);
            } while (std::next_permutation(peers.begin(), peers.end()));
        }
    }
}

TEST_CASE("the weight is a fixed function of the bytes, the same in every build") {
    // Nodes of different builds and hosts must agree on every home: a change to the hash
    // is a change of the protocol. These values pin it.
    // (Checked against an independent implementation of the documented algorithm: FNV-1a 64
    // over the id, a 0xff byte and the name, then SplitMix64's finalizer.)
    CHECK(claim_weight("job-1", "a") == 0x492b42b1e001b8e8ull);
    CHECK(claim_weight("job-1", "b") == 0xb2ff985586a6de5full);
    CHECK(claim_weight("0190a1b2-c3d4-7e5f-8a6b-000000000001", "node-7") == 0x1cb29483320b8148ull);
    // The id and the name are not simply concatenated.
    CHECK(claim_weight("ab", "c") != claim_weight("a", "bc"));
}

TEST_CASE("ids spread evenly over the nodes") {
    const auto ids = sample_ids(30000);
    auto three = homes_of(ids, "a", {"b", "c"});
    REQUIRE(three.size() == 3);
    for (const auto& [node, count] : three) {
        INFO(node << " is home for " << count << " of 30000");
        CHECK(count > 9500);
        CHECK(count < 10500);
    }
    auto five = homes_of(ids, "n1", {"n2", "n3", "n4", "n5"});
    REQUIRE(five.size() == 5);
    for (const auto& [node, count] : five) {
        INFO(node << " is home for " << count << " of 30000");
        CHECK(count > 5600);
        CHECK(count < 6400);
    }
}

TEST_CASE("when a node leaves, only the ids it was home for move, and they spread over the rest") {
    const auto ids = sample_ids(20000);
    std::map<std::string, std::size_t> moved_to;
    std::size_t moved = 0;
    for (const auto& id : ids) {
        const std::string before = claim_home(id, "a", {"b", "c", "d"});
        const std::string after = claim_home(id, "a", {"b", "c"});
        if (before != "d") {
            CHECK(after == before);
        } else {
            ++moved;
            ++moved_to[after];
        }
    }
    INFO(moved << " ids were homed at d");
    CHECK(moved > 4500);
    CHECK(moved < 5500);
    REQUIRE(moved_to.size() == 3);
    for (const auto& [node, count] : moved_to) CHECK(count > moved / 5);
}

TEST_CASE("a node that joins becomes home only for ids it takes from the others") {
    const auto ids = sample_ids(20000);
    std::size_t taken = 0;
    for (const auto& id : ids) {
        const std::string before = claim_home(id, "a", {"b", "c"});
        const std::string after = claim_home(id, "a", {"b", "c", "d"});
        if (after != before) {
            CHECK(after == "d");
            ++taken;
        }
    }
    CHECK(taken > 4500);
    CHECK(taken < 5500);
}
