// The malformed guard: which connections of a port to ignore for a while because they send
// malformed messages at a high rate.
//
// A zmq ROUTER cannot close one of its connections, so "disconnecting" a sender means: once a
// routing id has sent more than `limit_per_second` malformed messages within one second, the
// port drops every message from that routing id, unanswered, for `ignore_ms`; each such
// crossing is counted (status `security.malformed_disconnects`). A well-behaved client that
// sends an occasional bad message is answered REJECTED each time as before. A sender that
// reconnects gets a new routing id from the ROUTER (unless it sets its own), and so starts
// afresh: the guard bounds the cost of a flood, it does not identify an attacker.
//
// The number of routing ids tracked is bounded (`max_tracked`): when full, entries whose
// second has passed and that are not ignored are forgotten first; if none is, the new sender
// is not tracked (its messages are still answered and counted as malformed).
//
// Pure: the caller passes the steady clock (tests/test_malformed_guard.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>

namespace zq::node {

class MalformedGuard {
public:
    struct Settings {
        std::uint32_t limit_per_second = 100;
        std::int64_t ignore_ms = 10'000;
        std::size_t max_tracked = 4096;
    };

    MalformedGuard() : MalformedGuard(Settings{}) {}
    explicit MalformedGuard(Settings settings) : settings_(settings) {}

    // Whether messages from `sender` are dropped at `now_ms`.
    bool ignored(const std::string& sender, std::int64_t now_ms);
    // Counts one malformed message from `sender`; true when it crossed the limit (the sender
    // is ignored from now on, and counted once in disconnects()).
    bool malformed(const std::string& sender, std::int64_t now_ms);

    std::uint64_t disconnects() const { return disconnects_; }
    std::size_t tracked() const { return senders_.size(); }

private:
    struct Sender {
        std::int64_t window_start_ms = 0;
        std::uint32_t count = 0;
        std::int64_t ignored_until_ms = 0;
    };
    // Forgets senders that are neither in their current second nor ignored.
    void sweep(std::int64_t now_ms);

    Settings settings_;
    std::unordered_map<std::string, Sender> senders_;
    std::uint64_t disconnects_ = 0;
};

}  // namespace zq::node
