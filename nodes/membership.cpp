#include "membership.hpp"

#include "clock.hpp"

#include <zq/wire.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>

namespace zq::node {
namespace {

namespace f = protocol::field;
using protocol::Command;

// Liveness is checked this many times per heartbeat interval, so that a lost peer is seen
// at most a quarter interval after its deadline.
constexpr double kTicksPerInterval = 4;
// Peer links reconnect with exponential backoff between these bounds (zmq does the doubling).
constexpr int kReconnectMinMs = 100;
constexpr int kReconnectMaxMs = 5000;
// How long closing a peer link may wait to deliver a DISCONNECT when the node stops.
constexpr int kLeaveLingerMs = 500;
// Messages queued per peer link while it is connected but slow; beyond it sends fail.
constexpr int kPeerSendHighWater = 10000;

std::string seconds_text(double seconds) {
    char text[32];
    std::snprintf(text, sizeof text, "%.1fs", seconds);
    return text;
}

}  // namespace

std::string_view to_string(PeerState state) {
    switch (state) {
        case PeerState::connecting: return "connecting";
        case PeerState::alive: return "alive";
        case PeerState::lost: return "lost";
        case PeerState::left: return "left";
    }
    return "?";
}

Membership::Membership(uv_loop_t* loop, zmq::context_t& context, const Config& config, std::string incarnation,
                       Publisher& publisher, std::function<LocalOffer()> local_offer, Events events)
    : config_(config), context_(context), incarnation_(std::move(incarnation)), publisher_(publisher),
      local_offer_(std::move(local_offer)), events_(std::move(events)), ticker_(loop, [this] { tick(); }) {
    // Peers reach this node where it says its peer port listens: the configured advertise
    // endpoint, else the first tcp peer bind, else ipc://DATA/peer.sock (config.cpp).
    advertised_ = !config_.advertise.empty() ? config_.advertise : config_.local_peer_endpoint();
}

void Membership::start() {
    started_ms_ = steady_ms();
    for (const auto& endpoint : config_.peers) {
        if (endpoint != config_.local_endpoint()) link_to(endpoint);
    }
    ticker_.start(config_.heartbeat_interval / kTicksPerInterval, true);
    tick();
}

Peer* Membership::link_to(const std::string& endpoint) {
    if (endpoint == advertised_ || endpoint == config_.local_peer_endpoint()) return nullptr;
    if (auto found = peers_.find(endpoint); found != peers_.end()) return &found->second;
    if (peers_.size() >= config_.max_peers) {
        if (std::uint64_t held = 0; refused_log_.allow(held)) {
            spdlog::warn("peer {}: not linked, {} peers are linked already (max_peers){}", endpoint, peers_.size(),
                         held ? " (" + std::to_string(held) + " more refusals not logged)" : std::string());
        }
        return nullptr;
    }
    Peer& peer = peers_[endpoint];
    peer.endpoint = endpoint;
    peer.link = std::make_unique<zmq::socket_t>(context_, zmq::socket_type::dealer);
    peer.link->set(zmq::sockopt::linger, 0);
    // Nothing is queued for a peer that is not connected: heartbeats and hellos are resent
    // each interval anyway, and a stale queue would arrive as a burst after a long cut.
    peer.link->set(zmq::sockopt::immediate, 1);
    peer.link->set(zmq::sockopt::sndhwm, kPeerSendHighWater);
    peer.link->set(zmq::sockopt::reconnect_ivl, kReconnectMinMs);
    peer.link->set(zmq::sockopt::reconnect_ivl_max, kReconnectMaxMs);
    try {
        peer.link->connect(endpoint);
    } catch (const zmq::error_t& error) {
        spdlog::error("peer {}: cannot connect: {}", endpoint, error.what());
    }
    spdlog::info("peer {}: linking", endpoint);
    return &peer;
}

bool Membership::acceptable_name(std::string_view name) const { return !name.empty() && name != config_.name; }

Peer* Membership::find_by_name(std::string_view name) {
    for (auto& [endpoint, peer] : peers_) {
        if (peer.name == name) return &peer;
    }
    return nullptr;
}

const Peer* Membership::find_by_name(std::string_view name) const {
    for (const auto& [endpoint, peer] : peers_) {
        if (peer.name == name) return &peer;
    }
    return nullptr;
}

std::vector<PeerView> Membership::views() const {
    std::vector<PeerView> views;
    for (const auto& [endpoint, peer] : peers_) {
        if (peer.name.empty()) continue;
        views.push_back({peer.name, peer.state == PeerState::alive, std::string(to_string(peer.state)), peer.capacity,
                         peer.load, peer.queues, peer.introduced, peer.units});
    }
    return views;
}

bool Membership::send_to(std::string_view name, Command command, std::string_view body) {
    Peer* peer = find_by_name(name);
    std::uint64_t sent_at = publisher_.tap_clock();
    if (!peer || !send_message(*peer->link, command, body)) return false;
    if (sent_at) publisher_.tap(Direction::out, peer->name, command, body, sent_at);
    return true;
}

bool Membership::alive(std::string_view name) const {
    const Peer* peer = find_by_name(name);
    return peer && peer->state == PeerState::alive;
}

bool Membership::settling() const {
    if (started_ms_ == 0) {
        return std::any_of(config_.peers.begin(), config_.peers.end(),
                           [this](const std::string& endpoint) { return endpoint != advertised_; });
    }
    if (settled_) return false;
    auto interval_ms = static_cast<std::int64_t>(config_.heartbeat_interval * 1000);
    std::int64_t now = steady_ms();
    std::int64_t since_start = now - started_ms_;
    bool waiting = !peers_.empty() && since_start < interval_ms * config_.heartbeat_liveness &&
                   (since_start < interval_ms || now - last_came_alive_ms_ < interval_ms / 2 ||
                    std::any_of(peers_.begin(), peers_.end(),
                                [](const auto& entry) { return entry.second.state == PeerState::connecting; }));
    settled_ = !waiting;
    return waiting;
}

void Membership::take_capacity(std::string_view name, std::uint64_t units) {
    if (Peer* peer = find_by_name(name); peer && peer->capacity > 0) {
        peer->capacity -= std::min(units, peer->capacity);
        ++peer->load;
    }
}

void Membership::send(Peer& peer, Command command, std::string_view body) {
    std::uint64_t sent_at = publisher_.tap_clock();
    if (!send_message(*peer.link, command, body)) return;
    peer.last_sent_ms = steady_ms();
    if (!peer.introduced && (command == Command::hello || command == Command::welcome)) {
        peer.introduced = true;
        if (events_.on_peer_offer) events_.on_peer_offer();
    }
    if (sent_at) publisher_.tap(Direction::out, peer.name.empty() ? peer.endpoint : peer.name, command, body, sent_at);
}

void Membership::write_introduction(BodyWriter& body) const {
    body.add(f::node, config_.name)
        .add(f::incarnation, incarnation_)
        .add(f::endpoint, advertised_)
        .add(f::publish, publisher_.endpoint())
        .add(f::sequence, publisher_.last_broadcast());
}

std::vector<std::string> Membership::served_queues() const {
    std::vector<std::string> queues = config_.queues;
    queues.push_back("node:" + config_.name);
    return queues;
}

void Membership::send_hello(Peer& peer) {
    BodyWriter body;
    write_introduction(body);
    send(peer, Command::hello, body.finish());
}

void Membership::send_welcome(Peer& peer) {
    BodyWriter body;
    write_introduction(body);
    auto& members = body.begin(f::members);
    std::vector<const Peer*> alive;
    for (const auto& [endpoint, other] : peers_) {
        if (other.state == PeerState::alive && &other != &peer) alive.push_back(&other);
    }
    members.pack_array(static_cast<std::uint32_t>(alive.size()));
    for (const Peer* other : alive) {
        members.pack_map(2);
        members.pack(std::string(f::node));
        members.pack(other->name);
        members.pack(std::string(f::endpoint));
        members.pack(other->endpoint);
    }
    send(peer, Command::welcome, body.finish());
}

void Membership::on_message(const Message& message) {
    // After DISCONNECT this node is gone for its peers: answering a HELLO with WELCOME while
    // it drains would make them see it alive again (with no capacity) until it goes silent.
    if (leaving_) return;
    std::string name(*message.string(f::node));
    // A peer always has a name; an empty one would match every link still connecting, and
    // the local jobs (whose owner is "") would be reaped as if they ran on it. This node's
    // own name is its echo through a misconfigured peer list, or a forgery.
    if (!acceptable_name(name)) {
        if (std::uint64_t held = 0; refused_log_.allow(held)) {
            spdlog::warn("{} naming node '{}' ignored: no peer may be named so{}",
                         protocol::command_name(message.command()), name,
                         held ? " (" + std::to_string(held) + " more refusals not logged)" : std::string());
        }
        return;
    }
    auto endpoint = message.string(f::endpoint);
    Peer* peer = endpoint ? link_to(std::string(*endpoint)) : find_by_name(name);
    if (!peer) {
        spdlog::debug("{} from node {} that is not linked; ignored", protocol::command_name(message.command()), name);
        return;
    }
    // A link answers for one node: another name on it is a forgery or a misconfiguration.
    if (!peer->name.empty() && peer->name != name) {
        if (std::uint64_t held = 0; refused_log_.allow(held)) {
            spdlog::warn("{} from '{}' on the link of node {} ({}) ignored", protocol::command_name(message.command()),
                         name, peer->name, peer->endpoint);
        }
        return;
    }
    peer->name = name;
    switch (message.command()) {
        case Command::hello:
            heard_from(*peer, message);
            send_welcome(*peer);
            break;
        case Command::welcome:
            heard_from(*peer, message);
            peer->welcomed = true;
            learn_members(message);
            break;
        case Command::heartbeat:
            heard_from(*peer, message);
            break;
        case Command::disconnect:
            spdlog::info("peer {} ({}) left", peer->name, peer->endpoint);
            peer->state = PeerState::left;
            peer->welcomed = false;
            peer->introduced = false;
            peer->capacity = 0;
            if (events_.on_peer_lost) events_.on_peer_lost(*peer, "it shut down");
            break;
        default: break;
    }
}

void Membership::heard_from(Peer& peer, const Message& message) {
    std::string incarnation(message.string(f::incarnation).value_or(""));
    if (!peer.incarnation.empty() && !incarnation.empty() && incarnation != peer.incarnation) {
        std::string old = peer.incarnation;
        peer.incarnation = incarnation;
        spdlog::warn("peer {} restarted (incarnation {} -> {})", peer.name, old, incarnation);
        if (events_.on_peer_restarted) events_.on_peer_restarted(peer, old);
    } else if (!incarnation.empty()) {
        peer.incarnation = incarnation;
    }
    // A peer alive again changes placement and the homes of job ids, even before it
    // advertises capacity.
    bool came_alive = peer.state != PeerState::alive;
    if (came_alive) {
        spdlog::info("peer {} ({}) is alive", peer.name, peer.endpoint);
        peer.state = PeerState::alive;
        peer.introduced = false;
        last_came_alive_ms_ = steady_ms();
    }
    peer.last_heard_ms = steady_ms();
    if (auto publish = message.string(f::publish); publish && events_.on_peer_publisher) {
        events_.on_peer_publisher(peer, *publish, message.unsigned_integer(f::sequence).value_or(0));
    }
    bool offer = message.unsigned_integer(f::capacity).has_value();
    if (auto capacity = message.unsigned_integer(f::capacity)) peer.capacity = *capacity;
    if (auto units = message.unsigned_integer(f::units)) peer.units = *units;
    if (auto load = message.unsigned_integer(f::load)) peer.load = *load;
    if (const msgpack::object* queues = message.find(f::queues)) {
        peer.queues.clear();
        for (std::uint32_t i = 0; i < queues->via.array.size; ++i) {
            const auto& item = queues->via.array.ptr[i];
            if (item.type == msgpack::type::STR) peer.queues.emplace_back(item.via.str.ptr, item.via.str.size);
        }
    }
    if ((offer || came_alive) && events_.on_peer_offer) events_.on_peer_offer();
}

void Membership::learn_members(const Message& message) {
    const msgpack::object* members = message.find(f::members);
    if (!members) return;
    for (std::uint32_t i = 0; i < members->via.array.size; ++i) {
        const auto& member = members->via.array.ptr[i];
        if (member.type != msgpack::type::MAP) continue;
        FieldReader fields(member);
        auto endpoint = fields.string(f::endpoint);
        auto name = fields.string(f::node);
        if (!endpoint || !name || !acceptable_name(*name) || peers_.count(std::string(*endpoint))) continue;
        if (find_by_name(*name)) continue;  // known at another endpoint
        Peer* peer = link_to(std::string(*endpoint));
        if (!peer) continue;
        peer->name = std::string(*name);
        send_hello(*peer);
    }
}

void Membership::mark_lost(Peer& peer, const std::string& explanation) {
    peer.state = PeerState::lost;
    peer.welcomed = false;
    peer.introduced = false;
    peer.capacity = 0;
    spdlog::warn("peer {} lost: {}", peer.name, explanation);
    if (events_.on_peer_lost) events_.on_peer_lost(peer, explanation);
}

void Membership::read_links() {
    std::vector<std::pair<std::string, std::string>> repoint;  // from endpoint, to endpoint
    for (auto& [endpoint, peer] : peers_) {
        // Bounded per tick: a peer port never answers much (refusals only).
        for (int i = 0; i < 64; ++i) {
            auto received = receive_message(*peer.link, false, config_.limits);
            if (!received) break;
            if (!received->message || received->message->command() != Command::rejected) continue;
            const Message& rejected = *received->message;
            auto to = rejected.string(f::endpoint);
            if (to && peer.state == PeerState::connecting && *to != endpoint) {
                repoint.emplace_back(endpoint, std::string(*to));
                break;
            }
            if (std::uint64_t held = 0; refused_log_.allow(held)) {
                spdlog::warn("peer {}: refused what this node sent: {}", endpoint,
                             rejected.string(f::reason).value_or(""));
            }
        }
    }
    for (const auto& [from, to] : repoint) {
        // `from` is the peer's client port: the link moves to its peer port.
        spdlog::info("peer {}: a client port; linking to its peer endpoint {} instead", from, to);
        peers_.erase(from);
        if (Peer* peer = link_to(to); peer && !peer->welcomed) send_hello(*peer);
    }
}

void Membership::tick() {
    read_links();
    std::int64_t now = steady_ms();
    auto interval_ms = static_cast<std::int64_t>(config_.heartbeat_interval * 1000);
    auto deadline_ms = interval_ms * config_.heartbeat_liveness;
    LocalOffer offer = local_offer_();
    for (auto& [endpoint, peer] : peers_) {
        if (peer.state == PeerState::alive && now - peer.last_heard_ms > deadline_ms) {
            double silent = static_cast<double>(now - peer.last_heard_ms) / 1000.0;
            mark_lost(peer, "silent for " + seconds_text(silent) + " (" +
                                std::to_string(config_.heartbeat_liveness) + " heartbeats of " +
                                seconds_text(config_.heartbeat_interval) + ")");
        }
        if (now - peer.last_sent_ms < interval_ms) continue;
        // Until a peer answers, keep introducing ourselves: a lost peer that comes back, or
        // one still starting, then learns who we are.
        if (!peer.welcomed) {
            send_hello(peer);
            continue;
        }
        BodyWriter body;
        write_introduction(body);
        body.add(f::capacity, offer.capacity)
            .add(f::units, offer.units)
            .add(f::load, offer.load)
            .add_value(f::queues, served_queues());
        send(peer, Command::heartbeat, body.finish());
    }
}

void Membership::leave() {
    leaving_ = true;
    ticker_.stop();
    BodyWriter body;
    body.add(f::node, config_.name).add(f::incarnation, incarnation_);
    std::string_view bytes = body.finish();
    // Every linked peer hears it, not only those that answered us yet: a node that just
    // restarted may be stopped before its peers' links reconnect to it, while its own links
    // to them are up. Links otherwise drop what is unsent when closed: the goodbye must get out.
    for (auto& [endpoint, peer] : peers_) {
        peer.link->set(zmq::sockopt::linger, kLeaveLingerMs);
        send(peer, Command::disconnect, bytes);
    }
}

nlohmann::json Membership::peers_json() const {
    nlohmann::json list = nlohmann::json::array();
    std::int64_t now = steady_ms();
    for (const auto& [endpoint, peer] : peers_) {
        nlohmann::json last_heard = nullptr;
        if (peer.last_heard_ms != 0) last_heard = static_cast<double>(now - peer.last_heard_ms) / 1000.0;
        list.push_back({{"name", peer.name},
                        {"endpoint", peer.endpoint},
                        {"state", to_string(peer.state)},
                        {"last_heard", last_heard},
                        {"capacity", peer.capacity},
                        {"units", peer.units},
                        {"load", peer.load},
                        {"queues", peer.queues},
                        {"incarnation", peer.incarnation}});
    }
    return list;
}

}  // namespace zq::node
