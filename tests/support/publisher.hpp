// A stand-in for a node's publisher, for tests of subscribers (zq::Events, zq-trace) that
// need exact control of what is published: sequence numbers, gaps, tapped bodies.
//
//   FakePublisher publisher;
//   auto tool = std::async(std::launch::async, [&] { return run_command({..., "--publisher", publisher.endpoint()}); });
//   publisher.await_subscriber("E/");
//   publisher.event({.seq = 1, .id = "J1", .state = "queued"});
//
// It is an XPUB socket, so it sees each subscription arrive and a test publishes only once a
// subscriber is listening, instead of sleeping and hoping.
#pragma once

#include <zmq.hpp>

#include "support/node_process.hpp"

#include <cstdint>
#include <set>
#include <string>

namespace zq::test {

// Event times in published messages: this fixed unix µs plus the sequence number.
inline constexpr std::uint64_t kFakeEpochUs = 1'700'000'000'000'000;

struct FakeEvent {
    std::uint64_t seq = 1;
    std::string id;
    std::string state = "queued";
    std::string task = "zq.echo";
    std::string queue = "default";
    std::string node = "pub";
    std::string error;
};

struct FakeTap {
    std::uint64_t seq = 1;
    std::string id;
    std::string command = "SUBMIT";
    std::string direction = "in";
    std::string peer = "client:00aabbccdd";
    std::string queue = "default";  // in the tapped envelope
    std::string node = "pub";
};

class FakePublisher {
public:
    FakePublisher();

    const std::string& endpoint() const { return endpoint_; }
    // Waits until a subscriber has subscribed to `topic` (E/, T/ or B) since the last wait
    // for that topic; false after the deadline.
    bool await_subscriber(const std::string& topic, std::chrono::milliseconds deadline = kDeadline);
    // EVENT, on the topic a node would use: E/STATE/QUEUE/TASK.
    void event(const FakeEvent& event);
    // TAP of a message carrying a task envelope {id, task: zq.echo, q}, on T/COMMAND.
    void tap(const FakeTap& tap);
    // A BROADCAST with the given body, on topic B (what a node's subscriber follows).
    void broadcast(std::string_view body);

private:
    TempDir dir_;
    std::string endpoint_;
    zmq::context_t context_;
    zmq::socket_t socket_;
    std::multiset<std::string> subscriptions_;  // received, not yet awaited
};

}  // namespace zq::test
