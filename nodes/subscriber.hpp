// The node's subscription to its peers' broadcast streams, with gap detection and repair.
//
// One SUB socket, subscribed to topic `B`, connected to the PUB endpoint each peer advertises
// in HELLO, WELCOME and HEARTBEAT. Per publisher it tracks the incarnation and the next
// sequence number it expects, starting after the last one the publisher advertised when this
// node first heard of that incarnation (older broadcasts are not this node's business). A
// number above the one expected leaves a gap; so does an advertised last number still ahead
// of what arrived a quarter interval later. A gap is asked for again with REPAIR on the peer
// link; the publisher answers with the BROADCASTs it still keeps (repaired) and GONE for the
// rest (lost). Duplicates are dropped here; the dispatcher runs each broadcast once anyway.
//
// Bounded by what a publisher could really have sent: a publisher keeps only fanout_history
// broadcasts, so of a gap (a jump in the numbers, or an advertised last number far ahead) only
// the last fanout_history numbers are asked for, and the rest are counted lost at once. Gaps
// are kept as ranges, at most kMaxGaps per publisher (the oldest are given up beyond it), so a
// publisher costs the same few bytes whether it skips 10 numbers or 2^40. When a publisher's
// node is lost or leaves, its gaps are given up (counted lost) and its stream is dropped
// (forget()); only its counters stay.
#pragma once

#include "config.hpp"
#include "event_loop.hpp"
#include "publisher.hpp"

#include <zq/codec.hpp>

#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

namespace zq::node {

class Subscriber {
public:
    struct Events {
        // A BROADCAST to consider running (each sequence number once).
        std::function<void(const Message& message)> on_broadcast;
        // Sends REPAIR on the peer link to the named publisher.
        std::function<bool(std::string_view node, protocol::Command command, std::string_view body)> send_to;
    };

    Subscriber(uv_loop_t* loop, zmq::context_t& context, const Config& config, Publisher& publisher, Events events);

    void start();
    // What a peer advertised: its PUB endpoint and the last broadcast it published.
    void advertised(const std::string& node, std::string_view incarnation, std::string_view endpoint,
                    std::uint64_t last_published);
    // A numbered BROADCAST that came over the peer link (an answer to REPAIR).
    void on_repaired(const Message& message);
    // GONE: the publisher no longer keeps that range.
    void on_gone(const Message& message);
    // The publisher is lost or left: its gaps are given up, the SUB leaves its endpoint, and it
    // is followed afresh from its next broadcast if it comes back; its counters stay.
    void forget(const std::string& node);

    // {NODE: {incarnation, endpoint, received, repaired, lost, missing}}
    nlohmann::json status_json() const;

private:
    struct Source {
        std::string incarnation;
        std::string endpoint;
        std::uint64_t expected = 1;  // next sequence number
        std::uint64_t received = 0;
        std::uint64_t repaired = 0;
        std::uint64_t lost = 0;
        // Missing sequence numbers: disjoint ranges by their first number, with the steady ms
        // they were last asked for; `missing_count` numbers in all.
        struct Gap {
            std::uint64_t to = 0;
            std::int64_t asked_ms = 0;
        };
        std::map<std::uint64_t, Gap> missing;
        std::uint64_t missing_count = 0;
        // The publisher said it published up to `ahead_to`, above what arrived, at `ahead_since`.
        std::uint64_t ahead_to = 0;
        std::int64_t ahead_since_ms = 0;
    };

    bool drain();  // true when none were left
    void accept(const std::string& node, const Message& message, bool repaired);
    // A new incarnation: what was missing from the old one can no longer be repaired.
    void restart(Source& source, std::string_view incarnation, std::uint64_t expected);
    void mark_missing(const std::string& node, Source& source, std::uint64_t from, std::uint64_t to);
    // Takes [from, to] out of the missing ranges; returns how many numbers were missing there.
    static std::uint64_t take_missing(Source& source, std::uint64_t from, std::uint64_t to);
    void request_repair(const std::string& node, const Source& source, std::uint64_t from, std::uint64_t to);
    void tick();

    const Config& config_;
    Publisher& publisher_;
    Events events_;
    zmq::socket_t socket_;
    std::unique_ptr<ZmqWatcher> watcher_;
    uv_loop_t* loop_;
    Timer ticker_;
    std::map<std::string, Source, std::less<>> sources_;  // by publisher node name
};

}  // namespace zq::node
