#include "subscriber.hpp"

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
// Gaps (ranges of missing numbers) tracked per publisher; beyond it the oldest is given up.
constexpr std::size_t kMaxGaps = 64;
// No publisher numbers this far; a larger number is a peer's bug or a forgery, ignored.
constexpr std::uint64_t kMaxSequence = std::uint64_t{1} << 62;

}  // namespace

Subscriber::Subscriber(uv_loop_t* loop, zmq::context_t& context, const Config& config, Publisher& publisher,
                       Events events)
    : config_(config), publisher_(publisher), events_(std::move(events)), socket_(context, zmq::socket_type::sub),
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
                            std::uint64_t last_published) {
    if (last_published >= kMaxSequence) return;
    Source& source = sources_[node];
    if (!endpoint.empty() && endpoint != source.endpoint) {
        // Connecting and disconnecting process zmq's commands (and may take the edge), even
        // when they fail: look again before the loop sleeps.
        if (watcher_) watcher_->sent();
        try {
            if (!source.endpoint.empty()) socket_.disconnect(source.endpoint);
            socket_.connect(std::string(endpoint));
            spdlog::info("subscribed to the broadcasts of {} at {}", node, endpoint);
            source.endpoint = std::string(endpoint);
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

void Subscriber::forget(const std::string& node) {
    auto found = sources_.find(node);
    if (found == sources_.end() || found->second.endpoint.empty()) return;
    Source& source = found->second;
    if (!source.endpoint.empty()) {
        if (watcher_) watcher_->sent();
        try {
            socket_.disconnect(source.endpoint);
        } catch (const zmq::error_t&) {
            // Never connected (a connect that failed): nothing to undo.
        }
    }
    if (source.missing_count > 0) {
        spdlog::info("{} broadcasts of {} given up: the publisher is gone", source.missing_count, node);
    }
    // Only the counters stay (a few numbers per peer name, and names are bounded by
    // max_peers); the stream is followed afresh from its next broadcast if it comes back.
    restart(source, {}, 1);
    source.endpoint.clear();
}

void Subscriber::restart(Source& source, std::string_view incarnation, std::uint64_t expected) {
    source.lost += source.missing_count;
    source.missing.clear();
    source.missing_count = 0;
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
    // Only publishers a peer link introduced are followed (advertised()); what arrives after
    // one was forgotten (no endpoint), or under another name, is not tracked.
    auto found = sources_.find(node);
    if (found == sources_.end() || found->second.endpoint.empty()) return;
    Source& source = found->second;
    // A publisher that restarted on the same endpoint: its numbers start again at 1, and
    // those before this one are asked for (they were published after it came back).
    if (incarnation != source.incarnation) restart(source, incarnation, 1);
    if (take_missing(source, sequence, sequence) > 0) {
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
    std::uint64_t count = take_missing(source, from, to);
    source.lost += count;
    if (count > 0) {
        spdlog::warn("{} broadcasts of {} are lost: no longer kept by the publisher ({}..{})", count, found->first,
                     from, to);
    }
}

std::uint64_t Subscriber::take_missing(Source& source, std::uint64_t from, std::uint64_t to) {
    std::uint64_t taken = 0;
    // The first range that may overlap starts at or before `from`.
    auto gap = source.missing.upper_bound(from);
    if (gap != source.missing.begin()) --gap;
    while (gap != source.missing.end() && gap->first <= to) {
        std::uint64_t first = gap->first;
        Source::Gap range = gap->second;
        if (range.to < from) {
            ++gap;
            continue;
        }
        gap = source.missing.erase(gap);
        std::uint64_t cut_from = std::max(first, from), cut_to = std::min(range.to, to);
        taken += cut_to - cut_from + 1;
        if (first < cut_from) source.missing.emplace(first, Source::Gap{cut_from - 1, range.asked_ms});
        if (range.to > cut_to) gap = source.missing.emplace(cut_to + 1, Source::Gap{range.to, range.asked_ms}).first;
    }
    source.missing_count -= taken;
    return taken;
}

void Subscriber::mark_missing(const std::string& node, Source& source, std::uint64_t from, std::uint64_t to) {
    if (from > to) return;
    // The publisher keeps only fanout_history broadcasts: older numbers of the gap cannot be
    // repaired, and are lost at once (a jump of 2^40 costs one range, not 2^40 entries).
    std::uint64_t history = config_.fanout_history;
    if (to - from >= history) {
        std::uint64_t given_up = to - from + 1 - history;
        source.lost += given_up;
        from = to - history + 1;
        spdlog::warn("{} broadcasts of {} counted lost: beyond the {} a publisher keeps", given_up, node, history);
    }
    // Beyond kMaxGaps ranges, the oldest is given up.
    while (source.missing.size() >= kMaxGaps) {
        auto oldest = source.missing.begin();
        std::uint64_t count = oldest->second.to - oldest->first + 1;
        source.missing_count -= count;
        source.lost += count;
        source.missing.erase(oldest);
    }
    spdlog::info("broadcasts {}..{} of {} missed; asking for them again", from, to, node);
    source.missing.emplace(from, Source::Gap{to, steady_ms()});
    source.missing_count += to - from + 1;
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
        for (auto& [from, gap] : source.missing) {
            if (now - gap.asked_ms < interval_ms) continue;
            gap.asked_ms = now;
            request_repair(node, source, from, gap.to);
        }
    }
}

nlohmann::json Subscriber::status_json() const {
    nlohmann::json publishers = nlohmann::json::object();
    for (const auto& [node, source] : sources_) {
        publishers[node] = {{"incarnation", source.incarnation}, {"endpoint", source.endpoint},
                            {"received", source.received},       {"repaired", source.repaired},
                            {"lost", source.lost},               {"missing", source.missing_count},
                            {"next", source.expected}};
    }
    return publishers;
}

}  // namespace zq::node
