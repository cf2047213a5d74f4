#include "subscriber.hpp"

#include "secure_socket.hpp"

#include "clock.hpp"

#include <zq/wire.hpp>

#include <spdlog/spdlog.h>

namespace zq::node {
namespace {

namespace f = protocol::field;
using protocol::Command;

constexpr std::string_view kBroadcastTopic = "B";
// Gaps are checked this many times per heartbeat interval.
constexpr double kTicksPerInterval = 4;
// Messages queued from all publishers before SUB drops (and a gap is seen).
constexpr int kReceiveHighWater = 100000;
// Broadcasts handled per wake-up before the loop turns (replies and commits go out).
constexpr int kBatchLimit = 1024;
// Missing numbers tracked per publisher; beyond it the oldest of a gap are counted lost at once.
constexpr std::uint64_t kMaxMissing = 100000;
// No publisher numbers this far; a larger number is a peer's bug or a forgery, ignored.
constexpr std::uint64_t kMaxSequence = std::uint64_t{1} << 62;

}  // namespace

Subscriber::Subscriber(uv_loop_t* loop, zmq::context_t& context, const Config& config, const Security& security,
                       Publisher& publisher, Events events)
    : config_(config), security_(security), publisher_(publisher), events_(std::move(events)), socket_(context, zmq::socket_type::sub),
      loop_(loop), ticker_(loop, [this] { tick(); }) {
    socket_.set(zmq::sockopt::linger, 0);
    socket_.set(zmq::sockopt::rcvhwm, kReceiveHighWater);
    socket_.set(zmq::sockopt::maxmsgsize, static_cast<std::int64_t>(config.limits.max_message_bytes) * 2);
    socket_.set(zmq::sockopt::subscribe, kBroadcastTopic);
}

void Subscriber::start() {
    watcher_ = std::make_unique<ZmqWatcher>(loop_, socket_, [this] { return drain(); });
    ticker_.start(config_.heartbeat_interval / kTicksPerInterval, true);
}

void Subscriber::advertised(const std::string& node, std::string_view incarnation, std::string_view endpoint,
                            std::string_view key, std::uint64_t last_published) {
    if (last_published >= kMaxSequence) return;
    Source& source = sources_[node];
    if (!endpoint.empty() && (endpoint != source.endpoint || key != source.key)) {
        // Connecting and disconnecting process zmq's commands (and may take the edge), even
        // when they fail: look again before the loop sleeps.
        if (watcher_) watcher_->sent();
        try {
            if (!source.endpoint.empty()) socket_.disconnect(source.endpoint);
            // A peer publishes with the key pair it serves with: its key is the server key.
            prepare_peer_connection(socket_, security_, endpoint, key);
            socket_.connect(std::string(endpoint));
            spdlog::info("subscribed to the broadcasts of {} at {}", node, endpoint);
            source.endpoint = std::string(endpoint);
            source.key = std::string(key);
        } catch (const zmq::error_t& error) {
            spdlog::error("cannot subscribe to {} at {}: {}", node, endpoint, error.what());
        }
    }
    if (incarnation != source.incarnation) {
        // Broadcasts it published before this node heard of it are not this node's business.
        restart(source, incarnation, last_published + 1);
        return;
    }
    if (last_published < source.expected) {
        source.ahead_since_ms = 0;
    } else if (source.ahead_since_ms == 0) {
        // Maybe only in flight: a gap if it has not arrived a quarter interval from now.
        source.ahead_since_ms = steady_ms();
        source.ahead_to = last_published;
    }
}

void Subscriber::restart(Source& source, std::string_view incarnation, std::uint64_t expected) {
    source.lost += source.missing.size();
    source.missing.clear();
    source.incarnation = std::string(incarnation);
    source.expected = expected;
    source.ahead_since_ms = 0;
}

bool Subscriber::drain() {
    for (int i = 0; i < kBatchLimit; ++i) {
        auto received = receive_message(socket_, true, config_.limits);
        if (!received) return true;
        if (!received->message || received->message->command() != Command::broadcast) {
            spdlog::warn("unreadable message on the broadcast subscription: {}",
                         received->message ? "not a BROADCAST" : received->message.error());
            continue;
        }
        const Message& message = *received->message;
        std::string node(message.string(f::node).value_or(""));
        if (node.empty() || !message.unsigned_integer(f::sequence) || !message.string(f::incarnation)) {
            spdlog::warn("BROADCAST without node, seq or inc on the subscription; ignored");
            continue;
        }
        if (publisher_.tapping()) publisher_.tap(Direction::in, node, Command::broadcast, pack(message.body()));
        accept(node, message, false);
    }
    return false;
}

void Subscriber::on_repaired(const Message& message) {
    std::string node(message.string(f::node).value_or(""));
    auto found = sources_.find(node);
    // An answer about an earlier incarnation than the one followed now is of no use.
    if (found == sources_.end() || !message.unsigned_integer(f::sequence) ||
        message.string(f::incarnation) != found->second.incarnation) {
        return;
    }
    accept(node, message, true);
}

void Subscriber::accept(const std::string& node, const Message& message, bool repaired) {
    std::uint64_t sequence = *message.unsigned_integer(f::sequence);
    std::string_view incarnation = *message.string(f::incarnation);
    if (sequence == 0 || sequence >= kMaxSequence) return;
    Source& source = sources_[node];
    // A publisher that restarted on the same endpoint: its numbers start again at 1, and
    // those before this one are asked for (they were published after it came back).
    if (incarnation != source.incarnation) restart(source, incarnation, 1);
    if (source.missing.erase(sequence) > 0) {
        ++source.repaired;
    } else if (sequence >= source.expected) {
        if (sequence > source.expected) mark_missing(node, source, source.expected, sequence - 1);
        source.expected = sequence + 1;
        ++(repaired ? source.repaired : source.received);
    } else {
        return;  // already had it
    }
    events_.on_broadcast(message);
}

void Subscriber::on_gone(const Message& message) {
    auto found = sources_.find(*message.string(f::node));
    if (found == sources_.end() || found->second.incarnation != *message.string(f::incarnation)) return;
    Source& source = found->second;
    std::uint64_t from = *message.unsigned_integer(f::from), to = *message.unsigned_integer(f::to);
    if (from > to) return;
    auto first = source.missing.lower_bound(from), last = source.missing.upper_bound(to);
    auto count = static_cast<std::uint64_t>(std::distance(first, last));
    source.missing.erase(first, last);
    source.lost += count;
    if (count > 0) {
        spdlog::warn("{} broadcasts of {} are lost: no longer kept by the publisher ({}..{})", count, found->first,
                     from, to);
    }
}

void Subscriber::mark_missing(const std::string& node, Source& source, std::uint64_t from, std::uint64_t to) {
    if (from > to) return;
    spdlog::info("broadcasts {}..{} of {} missed; asking for them again", from, to, node);
    // Beyond what can be tracked, the oldest part of the gap is given up at once.
    std::uint64_t room = kMaxMissing - std::min<std::uint64_t>(kMaxMissing, source.missing.size());
    if (to - from >= room) {
        std::uint64_t kept = std::min(room, to - from + 1);
        source.lost += (to - from + 1) - kept;
        if (kept == 0) return;
        from = to - kept + 1;
    }
    std::int64_t now = steady_ms();
    for (std::uint64_t sequence = from; sequence <= to; ++sequence) source.missing[sequence] = now;
    request_repair(node, source, from, to);
}

void Subscriber::request_repair(const std::string& node, const Source& source, std::uint64_t from, std::uint64_t to) {
    BodyWriter body;
    body.add(f::node, config_.name).add(f::incarnation, source.incarnation).add(f::from, from).add(f::to, to);
    events_.send_to(node, Command::repair, body.finish());
}

void Subscriber::tick() {
    std::int64_t now = steady_ms();
    auto interval_ms = static_cast<std::int64_t>(config_.heartbeat_interval * 1000);
    for (auto& [node, source] : sources_) {
        if (source.ahead_since_ms != 0 && now - source.ahead_since_ms >= interval_ms / kTicksPerInterval) {
            source.ahead_since_ms = 0;
            if (source.ahead_to >= source.expected) {
                mark_missing(node, source, source.expected, source.ahead_to);
                source.expected = source.ahead_to + 1;
            }
        }
        // Requests (or their answers) can be lost too, on a link that went down meanwhile:
        // what is still missing an interval later is asked for again, range by range.
        std::uint64_t from = 0, to = 0;
        for (auto& [sequence, asked_ms] : source.missing) {
            if (now - asked_ms < interval_ms) continue;
            asked_ms = now;
            if (from != 0 && sequence == to + 1) {
                to = sequence;
                continue;
            }
            if (from != 0) request_repair(node, source, from, to);
            from = to = sequence;
        }
        if (from != 0) request_repair(node, source, from, to);
    }
}

nlohmann::json Subscriber::status_json() const {
    nlohmann::json publishers = nlohmann::json::object();
    for (const auto& [node, source] : sources_) {
        publishers[node] = {{"incarnation", source.incarnation}, {"endpoint", source.endpoint},
                            {"received", source.received},       {"repaired", source.repaired},
                            {"lost", source.lost},               {"missing", source.missing.size()},
                            {"next", source.expected}};
    }
    return publishers;
}

}  // namespace zq::node
