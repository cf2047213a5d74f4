// Membership: which other nodes exist, whether they are alive, and what they offer.
//
// Each node connects one DEALER to every peer's ROUTER (the peer's advertised endpoint, on its
// peer port) and sends on it; what peers send arrives on this node's own peer port and is
// handed to on_message(). What comes back on a DEALER is read on each tick: a REJECTED with
// `ep` from a peer's client port (a --peer that names a client endpoint) re-points the link to
// the peer endpoint it names. No peer may be named "" or after this node, and HELLO and
// WELCOME add at most max_peers links (docs/architecture.md, "Peers apart from clients"). Majordomo-style heartbeating: a node sends HEARTBEAT to a peer it
// has sent nothing else to for heartbeat_interval; any message from a peer counts as a sign
// of life; a peer silent for heartbeat_liveness intervals is lost (capacity 0). A node keeps
// saying HELLO to a peer until that peer answers WELCOME (a WELCOME sent on a link still
// connecting is dropped), so a lost peer that comes back rejoins, and a node that knows one
// live peer learns the rest from its WELCOME.
#pragma once

#include "config.hpp"
#include "event_loop.hpp"
#include "log_throttle.hpp"
#include "placement.hpp"
#include "publisher.hpp"

#include <zq/codec.hpp>

#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace zq::node {

enum class PeerState { connecting, alive, lost, left };
std::string_view to_string(PeerState state);

struct Peer {
    std::string endpoint;  // where its ROUTER listens; the key of a peer
    std::string name;      // empty until it has introduced itself
    std::string incarnation;
    PeerState state = PeerState::connecting;
    bool welcomed = false;  // it answered our HELLO (so we have its member list)
    // Our HELLO or WELCOME went out on the link since it last came alive: it knows our name
    // by the time anything sent after that arrives.
    bool introduced = false;
    std::int64_t last_heard_ms = 0;  // steady clock; 0 = never
    std::int64_t last_sent_ms = 0;
    std::uint64_t capacity = 0;  // free units it advertised, minus what we sent since
    std::uint64_t units = 0;     // its capacity in units (0: not advertised)
    std::uint64_t load = 0;
    std::vector<std::string> queues;
    std::unique_ptr<zmq::socket_t> link;  // our DEALER to its ROUTER
};

// What this node advertises about itself in HEARTBEAT.
struct LocalOffer {
    std::uint64_t capacity = 0;  // free capacity units (0 when no worker is free)
    std::uint64_t load = 0;
    std::uint64_t units = 0;  // capacity in units
};

class Membership {
public:
    struct Events {
        // A peer went silent for liveness × interval (or said goodbye): its capacity is 0.
        // `explanation` says why without the node's name: "silent for 3.1s (3 heartbeats of
        // 1.0s)", "it shut down".
        std::function<void(const Peer& peer, const std::string& explanation)> on_peer_lost;
        // A peer came back with a new incarnation: whatever it ran before is gone.
        std::function<void(const Peer& peer, const std::string& old_incarnation)> on_peer_restarted;
        // A peer is alive again, advertised its capacity, or was introduced to this node:
        // placement and the homes of job ids may change.
        std::function<void()> on_peer_offer;
        // A peer told its PUB endpoint and the last broadcast it published.
        std::function<void(const Peer& peer, std::string_view endpoint, std::uint64_t last_broadcast)> on_peer_publisher;
    };

    // Every message sent on a peer link is mirrored to the publisher's tap (when it is on),
    // and HELLO, WELCOME and HEARTBEAT carry the publisher's endpoint and last broadcast.
    Membership(uv_loop_t* loop, zmq::context_t& context, const Config& config, std::string incarnation,
               Publisher& publisher, std::function<LocalOffer()> local_offer, Events events);

    // Connects to the configured peers and starts heartbeating.
    void start();
    // HELLO, WELCOME, HEARTBEAT or DISCONNECT from a peer.
    void on_message(const Message& message);
    // Says DISCONNECT to every peer (graceful shutdown).
    void leave();

    const std::string& advertised_endpoint() const { return advertised_; }
    // The peers as placement sees them (named peers only).
    std::vector<PeerView> views() const;
    // Sends a job message (FORWARD, TAKEN, STATE...) on the link to the peer named `name`;
    // false when there is no such peer or the link would not take it (not connected). Job
    // messages do not replace heartbeats: the receiver counts only membership messages.
    bool send_to(std::string_view name, protocol::Command command, std::string_view body);
    bool alive(std::string_view name) const;
    // Whether the node is still learning who is alive, after it started: until at least one
    // heartbeat interval has passed, every peer it knows has answered, and half an interval
    // has passed since the last of them did (what a peer sends right after it first hears
    // from this node, such as claims decided in its place, has arrived by then); or until
    // liveness × interval has passed, for peers that never answer. A node that knows no peer
    // settles at once; before start() it is settling if peers are configured. Once settled,
    // it stays so.
    bool settling() const;
    // Whether a peer of that name has introduced itself (in any state).
    bool knows(std::string_view name) const { return find_by_name(name) != nullptr; }
    // A job of `units` units was sent to `name`: that many free units fewer until its next
    // heartbeat says more.
    void take_capacity(std::string_view name, std::uint64_t units = 1);
    nlohmann::json peers_json() const;

private:
    // The peer at `endpoint`, linked now if it is new; nullptr when it is this node's own
    // endpoint or max_peers are linked already.
    Peer* link_to(const std::string& endpoint);
    // Whether `name` may name a peer: not empty, not this node's name.
    bool acceptable_name(std::string_view name) const;
    // Reads what came back on the links: REJECTED from a client port, with the peer endpoint
    // to link to instead.
    void read_links();
    Peer* find_by_name(std::string_view name);
    const Peer* find_by_name(std::string_view name) const;
    void send(Peer& peer, protocol::Command command, std::string_view body);
    void send_hello(Peer& peer);
    void send_welcome(Peer& peer);
    // Adds what every introduction carries: name, incarnation, endpoints, last broadcast.
    void write_introduction(BodyWriter& body) const;
    void heard_from(Peer& peer, const Message& message);
    void learn_members(const Message& message);
    void mark_lost(Peer& peer, const std::string& explanation);
    void tick();
    std::vector<std::string> served_queues() const;

    const Config& config_;
    zmq::context_t& context_;
    std::string incarnation_;
    Publisher& publisher_;
    std::string advertised_;
    std::function<LocalOffer()> local_offer_;
    Events events_;
    std::map<std::string, Peer> peers_;  // by endpoint
    LogThrottle refused_log_;            // peers beyond max_peers, names refused
    Timer ticker_;
    bool leaving_ = false;  // DISCONNECT sent: the node is shutting down
    std::int64_t started_ms_ = 0;          // steady clock, when start() ran; 0 before
    std::int64_t last_came_alive_ms_ = 0;  // steady clock, when a peer last became alive
    mutable bool settled_ = false;
};

}  // namespace zq::node
