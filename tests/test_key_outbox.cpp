// The key outbox (key_outbox.hpp): at an origin, a job takes its locks one after the other,
// and the lists it sends to each home say what it holds and what it waits for.
#include "key_outbox.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using zq::node::KeyLock;
using zq::node::KeyOutbox;
using zq::node::KeyPolicy;

namespace {

std::vector<KeyLock> key_then_queue() {
    return {{"key:K", KeyPolicy::serial, 1}, {"queue:heavy", KeyPolicy::parallel, 2}};
}

}  // namespace

TEST_CASE("a job asks for its key first, then its queue, and is admitted once it holds both") {
    KeyOutbox outbox("a");
    outbox.add("1", key_then_queue());
    REQUIRE(outbox.asking("1"));
    CHECK(outbox.asking("1")->lock == "key:K");
    CHECK_FALSE(outbox.granted("1", "queue:heavy"));  // not the lock it asks for
    CHECK(outbox.granted("1", "key:K"));
    CHECK(outbox.asking("1")->lock == "queue:heavy");
    CHECK(outbox.granted("1", "queue:heavy"));
    CHECK(outbox.admitted("1"));
    CHECK(outbox.waiting().empty());
}

TEST_CASE("a job that ends releases what it holds and what it asked for, at their homes") {
    KeyOutbox outbox("a");
    outbox.add("1", key_then_queue());
    outbox.granted("1", "key:K");
    outbox.asked("1", "c");
    auto slots = outbox.remove("1", [](std::string_view lock) { return lock == "key:K" ? "b" : "c"; });
    REQUIRE(slots.size() == 2);
    CHECK(slots[0].home == "b");
    CHECK(slots[0].lock == "key:K");
    CHECK(slots[1].home == "c");
    CHECK(slots[1].lock == "queue:heavy");
    CHECK_FALSE(outbox.holds("1"));
}

TEST_CASE("the sync lists give each home what this node holds and waits for there, in order") {
    KeyOutbox outbox("a");
    outbox.add_admitted("1", {{"key:K", KeyPolicy::serial, 1}});
    outbox.add("2", {{"key:K", KeyPolicy::serial, 1}});
    outbox.asked("2", "b");
    auto by_home = outbox.requests_by_home([](std::string_view) { return std::string("b"); });
    REQUIRE(by_home["b"].size() == 2);
    CHECK(by_home["b"][0].id == "1");
    CHECK(by_home["b"][0].held);
    CHECK(by_home["b"][1].id == "2");
    CHECK_FALSE(by_home["b"][1].held);
    // The home moves to c: job 2 must ask again there.
    CHECK(outbox.rehome([](std::string_view) { return std::string("c"); }) == std::vector<std::string>{"2"});
}
