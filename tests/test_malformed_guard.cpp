// The malformed guard (nodes/malformed_guard.hpp): a sender over the limit in one second is
// ignored for a while and counted once; others are not; what it tracks stays bounded.
#include "malformed_guard.hpp"

#include <catch2/catch.hpp>

using zq::node::MalformedGuard;

TEST_CASE("a sender over the limit within a second is ignored for a while, and counted once") {
    MalformedGuard guard({.limit_per_second = 3, .ignore_ms = 5000, .max_tracked = 16});
    for (int i = 0; i < 3; ++i) CHECK_FALSE(guard.malformed("a", 1000 + i));
    CHECK_FALSE(guard.ignored("a", 1003));
    CHECK(guard.malformed("a", 1004));
    CHECK(guard.ignored("a", 1005));
    CHECK_FALSE(guard.malformed("a", 1006));  // counted once
    CHECK(guard.disconnects() == 1);
    CHECK_FALSE(guard.ignored("b", 1005));
    CHECK(guard.ignored("a", 6003));
    CHECK_FALSE(guard.ignored("a", 6004));  // served its time
    CHECK(guard.tracked() == 0);
}

TEST_CASE("malformed messages spread over seconds never cross the limit") {
    MalformedGuard guard({.limit_per_second = 3, .ignore_ms = 5000, .max_tracked = 16});
    for (int second = 0; second < 10; ++second) {
        for (int i = 0; i < 3; ++i) CHECK_FALSE(guard.malformed("a", second * 1000 + i));
    }
    CHECK(guard.disconnects() == 0);
}

TEST_CASE("the senders tracked are bounded; quiet ones are forgotten first") {
    MalformedGuard guard({.limit_per_second = 1, .ignore_ms = 60000, .max_tracked = 4});
    for (int i = 0; i < 4; ++i) guard.malformed("s" + std::to_string(i), 0);
    CHECK(guard.tracked() == 4);
    // Still within their second: nobody can be forgotten, the new sender is not tracked.
    CHECK_FALSE(guard.malformed("new", 10));
    CHECK_FALSE(guard.malformed("new", 11));
    CHECK(guard.tracked() == 4);
    // A second later they are quiet: forgotten to make room.
    guard.malformed("later", 2000);
    CHECK(guard.tracked() == 1);
}
