// The node's publisher: one PUB socket carrying three streams, broadcasts (topic `B`), job
// events (`E/STATE/QUEUE/TASK`) and the protocol tap (`T/COMMAND`).
//
// PUB/SUB drops silently (slow joiners, high-water mark), so each stream is numbered 1, 2,
// 3... per incarnation and its last `fanout_history` messages are kept: subscribers see gaps
// in the numbers, and a node that missed broadcasts asks for them again (REPAIR, answered
// from repair_range()). The kept events and taps also answer `history`, so that zq-trace can
// show a job's path after the fact. See "Fanout" in docs/protocol.md.
//
// The socket is an XPUB, so the publisher knows which topics someone subscribed to: job
// events cost a few microseconds each, and are made only while someone listens to them (or
// the tap is on), not on every job of a node nobody watches.
#pragma once

#include "config.hpp"
#include "event_loop.hpp"
#include "job_event.hpp"
#include "security.hpp"

#include <zq/codec.hpp>
#include <zq/protocol.hpp>
#include <zq/result.hpp>

#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include <array>
#include <cstdint>
#include <deque>
#include <set>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace zq::node {

enum class Stream : std::uint8_t { broadcast, event, tap };
enum class Direction : std::uint8_t { in, out };

class Publisher {
public:
    Publisher(zmq::context_t& context, const Config& config, std::string incarnation);

    // Binds ipc://DATA/pub.sock and a free port on the host of each tcp client endpoint (or
    // the configured `publish` endpoints) and chooses the endpoint peers are told about. tcp
    // endpoints are CURVE servers in domain "client" when `security` says so.
    Status bind(const Security& security);
    // Starts reading subscriptions (which topics anyone listens to).
    void start(uv_loop_t* loop);
    const std::string& endpoint() const { return advertised_; }
    // Whether job events are wanted: someone subscribed to them, or the tap is on.
    bool wants_events() const { return tapping_ || event_subscriptions_ > 0; }

    // Numbers, keeps and sends a BROADCAST whose envelope `body` already holds; returns its
    // sequence number.
    std::uint64_t publish_broadcast(BodyWriter& body);
    void publish_event(const JobEvent& event);
    // Mirrors a message this node sent or received to the tap stream, when the tap is on.
    // `at_us` is when it was sent (taken before the send: the receiver may stamp its copy
    // before the send returns here) or received; 0 means now.
    void tap(Direction direction, std::string_view peer, protocol::Command command, std::string_view body,
             std::uint64_t at_us = 0);
    bool tapping() const { return tapping_; }
    // The time to give tap() for a message about to be sent (0 while the tap is off).
    std::uint64_t tap_clock() const;
    void set_tapping(bool on) { tapping_ = on; }

    // The last sequence number published on the broadcast stream (0 before the first).
    std::uint64_t last_broadcast() const { return last_sequence_[index(Stream::broadcast)]; }
    // The kept broadcasts numbered from..to, and the part of the range no longer kept.
    struct Repair {
        std::vector<std::string_view> bodies;
        std::vector<std::pair<std::uint64_t, std::uint64_t>> gone;
    };
    Repair repair_range(std::uint64_t from, std::uint64_t to) const;
    // The kept events and taps, oldest first, as [command name, body]; with a job id only
    // those about that job (or its broadcast runs ID@NODE), as msgpack bytes.
    std::string history(std::string_view job_id) const;

    nlohmann::json status_json() const;

    // Test hook: the broadcast with this sequence number is kept but not sent, as if PUB/SUB
    // had dropped it (0: none).
    void drop_broadcast(std::uint64_t sequence) { drop_broadcast_ = sequence; }

private:
    struct Kept {
        std::uint64_t sequence;
        std::uint64_t time_us;
        protocol::Command command;
        std::string id;  // the job the message is about, for history
        std::string body;
    };
    static std::size_t index(Stream stream) { return static_cast<std::size_t>(stream); }
    // Adds inc, seq and t, finishes the body, keeps it and sends it under `topic`.
    std::uint64_t publish(Stream stream, protocol::Command command, std::string_view topic, std::string id,
                          BodyWriter& body, std::uint64_t at_us = 0);
    Status bind_one(const std::string& endpoint, const Security& security);
    bool read_subscriptions();  // true when none were left

    zmq::socket_t socket_;
    const Config& config_;
    std::string incarnation_;
    std::vector<std::string> endpoints_;
    std::string advertised_;
    bool tapping_;
    std::array<std::uint64_t, 3> last_sequence_{};
    std::array<std::deque<Kept>, 3> kept_;
    std::uint64_t drop_broadcast_ = 0;
    std::unique_ptr<ZmqWatcher> watcher_;
    // Topics subscribed to by anyone (XPUB reports the first subscription to a topic and
    // the last unsubscription), and how many of them cover job events.
    std::set<std::string> topics_;
    std::size_t event_subscriptions_ = 0;
};

}  // namespace zq::node
