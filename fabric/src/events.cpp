// The subscriber (see events.hpp): one SUB socket connected to every publisher, a record per
// publisher stream of the last sequence number seen, and the node queries that find
// publishers and fetch history.
//
// open() waits for the ZMTP handshake with every publisher (seen through a socket monitor)
// before it returns: a SUB socket drops whatever is published before its subscription reaches
// the publisher, so a caller that acts right after open() (submits a job, fetches history)
// would otherwise miss the first messages without any sign of it.
#include <zq/curve.hpp>
#include <zq/events.hpp>

#include <zq/protocol.hpp>
#include <zq/wire.hpp>

#include <zmq.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <exception>
#include <map>
#include <set>
#include <utility>

namespace zq {

namespace {

namespace f = protocol::field;
using Clock = std::chrono::steady_clock;

// Topic prefixes of whole streams (docs/protocol.md, "Fanout"). Narrower prefixes such as
// `E/failed/` would make sequence numbers jump on purpose and hide real gaps.
constexpr std::string_view kEventTopic = "E/";
constexpr std::string_view kTapTopic = "T/";
constexpr std::string_view kBroadcastTopic = "B";

// How many messages the SUB socket holds before libzmq drops new ones. A burst of 10,000
// jobs publishes tens of thousands of events and taps; what is dropped shows up as a gap.
constexpr int kReceiveHighWaterMark = 1'000'000;

// The longest run() waits before it asks its stop predicate again.
constexpr Milliseconds kStopCheckInterval{100};

// Where the monitor of the SUB socket reports; inproc names are per context, and every
// Events object has its own context.
constexpr const char* kMonitorEndpoint = "inproc://zq-events-monitor";

std::string seconds_text(Milliseconds timeout) {
    char text[32];
    std::snprintf(text, sizeof text, "%.1fs", static_cast<double>(timeout.count()) / 1000.0);
    return text;
}

// A poll that returns early, not with an exception, when a signal interrupts it.
void poll_for_input(zmq::socket_t& socket, Milliseconds timeout) {
    zmq_pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
    try {
        zmq::poll(&item, 1, timeout);
    } catch (const zmq::error_t& error) {
        if (error.num() != EINTR) throw;
    }
}

Milliseconds time_left(Clock::time_point deadline) {
    const auto now = Clock::now();
    if (now >= deadline) return Milliseconds(0);
    // Rounded up, so that a wait below a millisecond does not spin.
    return std::chrono::ceil<Milliseconds>(deadline - now);
}

// What the sequence number of one message says about the stream it is in.
struct Observation {
    bool duplicate = false;       // already seen: the same publisher reached twice
    std::optional<Event> gap;     // messages before it that never arrived
};

// The last sequence number seen on each publisher's stream. A publisher's first message, or
// the first of a new incarnation, only sets the start: what was published before this
// subscriber connected is not a gap.
class SequenceTracker {
public:
    Observation observe(const Event& event) {
        const std::string stream(stream_of(event));
        StreamCounters& counters = streams_[{event.node, stream}];
        if (counters.received == 0 || counters.incarnation != event.incarnation) {
            counters = StreamCounters{event.node, stream, event.incarnation, event.seq, 1, counters.missed};
            return {};
        }
        if (event.seq <= counters.last_seq) return {.duplicate = true};
        Observation observation;
        if (event.seq > counters.last_seq + 1) {
            Event gap;
            gap.kind = EventKind::gap;
            gap.node = event.node;
            gap.incarnation = event.incarnation;
            gap.time_us = event.time_us;
            gap.command = stream;
            gap.gap_from = counters.last_seq + 1;
            gap.gap_to = event.seq - 1;
            counters.missed += gap.gap_to - gap.gap_from + 1;
            observation.gap = std::move(gap);
        }
        counters.last_seq = event.seq;
        ++counters.received;
        return observation;
    }

    std::vector<StreamCounters> counters() const {
        std::vector<StreamCounters> all;
        for (const auto& [key, counters] : streams_) all.push_back(counters);
        return all;
    }

private:
    std::map<std::pair<std::string, std::string>, StreamCounters> streams_;
};

// Waits until the monitor reported a completed handshake for every publisher. Returns the
// publishers that did not complete one in time.
std::vector<std::string> await_handshakes(zmq::socket_t& monitor, const std::vector<std::string>& publishers,
                                          Clock::time_point deadline) {
    std::set<std::string> waiting(publishers.begin(), publishers.end());
    while (!waiting.empty()) {
        zmq::message_t header;
        if (!retry_interrupted([&] { return monitor.recv(header, zmq::recv_flags::dontwait); })) {
            const auto left = time_left(deadline);
            if (left.count() == 0) break;
            poll_for_input(monitor, left);
            continue;
        }
        zmq::message_t address;
        if (header.more()) retry_interrupted([&] { return monitor.recv(address); });
        std::uint16_t event = 0;
        if (header.size() >= sizeof event) std::memcpy(&event, header.data(), sizeof event);
        if (event != ZMQ_EVENT_HANDSHAKE_SUCCEEDED) continue;
        // The monitor names the endpoint as connected; a name that was resolved differently
        // (a host name) still counts, for one of the publishers not yet seen.
        if (waiting.erase(address.to_string()) == 0) waiting.erase(waiting.begin());
    }
    return {waiting.begin(), waiting.end()};
}

}  // namespace

struct Events::Impl {
    EventFilter filter;
    Credentials credentials;
    std::vector<std::string> publishers;
    zmq::context_t context;
    zmq::socket_t socket{context, zmq::socket_type::sub};
    SequenceTracker tracker;
    // Decoded events not handed out yet: a gap goes out before the message that revealed it.
    std::deque<Event> pending;

    Status connect(Milliseconds timeout) {
        const auto deadline = Clock::now() + timeout;
        // Unread messages die with the subscriber instead of keeping the process alive.
        socket.set(zmq::sockopt::linger, 0);
        socket.set(zmq::sockopt::rcvhwm, kReceiveHighWaterMark);
        if (filter.events) socket.set(zmq::sockopt::subscribe, kEventTopic);
        if (filter.tap) socket.set(zmq::sockopt::subscribe, kTapTopic);
        if (filter.broadcasts) socket.set(zmq::sockopt::subscribe, kBroadcastTopic);

        if (zmq_socket_monitor(socket.handle(), kMonitorEndpoint, ZMQ_EVENT_HANDSHAKE_SUCCEEDED) != 0) {
            return Error{std::string("cannot watch the subscriber's connections: ") + zmq_strerror(zmq_errno())};
        }
        zmq::socket_t monitor(context, zmq::socket_type::pair);
        monitor.set(zmq::sockopt::linger, 0);
        monitor.connect(kMonitorEndpoint);
        for (const auto& endpoint : publishers) {
            try {
                prepare_connection(socket, endpoint, credentials);
                socket.connect(endpoint);
            } catch (const zmq::error_t& error) {
                return Error{"cannot connect to the publisher at '" + endpoint + "': " + error.what() +
                                 " (expected ipc:///path/pub.sock or tcp://host:port)",
                             ErrorCode::bad_input};
            }
        }
        const auto unconnected = await_handshakes(monitor, publishers, deadline);
        zmq_socket_monitor(socket.handle(), nullptr, 0);
        if (!unconnected.empty()) {
            std::string names;
            for (const auto& endpoint : unconnected) names += (names.empty() ? "" : ", ") + endpoint;
            return Error{"no connection to the publisher at " + names + " within " + seconds_text(timeout) +
                             ": is the node running, and is its fanout endpoint reachable from here?",
                         ErrorCode::unreachable};
        }
        return success();
    }

    // Decodes one received message into `pending`; malformed ones and duplicates are skipped.
    void take(Received& received) {
        if (!received.message) return;
        auto event = event_from_message(*received.message);
        if (!event) return;
        Observation observation = tracker.observe(*event);
        if (observation.duplicate) return;
        if (observation.gap) pending.push_back(std::move(*observation.gap));
        pending.push_back(std::move(*event));
    }

    Result<Event> next(Milliseconds timeout) {
        const auto deadline = Clock::now() + timeout;
        for (;;) {
            while (!pending.empty()) {
                Event event = std::move(pending.front());
                pending.pop_front();
                if (filter.matches(event)) return event;
            }
            // The topic frame comes first, where a ROUTER socket has the peer's identity.
            if (auto received = receive_message(socket, true)) {
                take(*received);
                continue;
            }
            const auto left = time_left(deadline);
            if (left.count() == 0) {
                return Error{"no event within " + seconds_text(timeout), ErrorCode::timed_out};
            }
            poll_for_input(socket, left);
        }
    }
};

Events::Events(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Events::~Events() = default;
Events::Events(Events&&) noexcept = default;
Events& Events::operator=(Events&&) noexcept = default;

Result<Events> Events::open(Subscription subscription) {
    try {
        auto impl = std::make_unique<Impl>();
        impl->filter = std::move(subscription.filter);
        impl->credentials = subscription.credentials;
        for (const auto& node : subscription.nodes) {
            Client client(node, subscription.credentials);
            auto endpoint = publisher_endpoint(client, subscription.timeout);
            if (!endpoint) return endpoint.failure();
            impl->publishers.push_back(std::move(*endpoint));
        }
        impl->publishers.insert(impl->publishers.end(), subscription.publishers.begin(),
                                subscription.publishers.end());
        if (impl->publishers.empty()) {
            return Error{"nothing to follow: give at least one node or publisher endpoint", ErrorCode::bad_input};
        }
        if (auto connected = impl->connect(subscription.timeout); !connected) return connected.failure();
        return Events(std::move(impl));
    } catch (const std::exception& error) {
        return Error{std::string("cannot subscribe to the nodes' events: ") + error.what()};
    }
}

Result<Event> Events::next(Milliseconds timeout) {
    if (!impl_) return Error{"this zq::Events was moved from", ErrorCode::bad_input};
    try {
        return impl_->next(timeout);
    } catch (const std::exception& error) {
        return Error{std::string("receiving events: ") + error.what()};
    }
}

Result<std::uint64_t> Events::run(const std::function<bool(const Event&)>& on_event, Milliseconds timeout,
                                  const std::function<bool()>& stop) {
    const auto deadline = Clock::now() + timeout;
    std::uint64_t handed_out = 0;
    while (!(stop && stop())) {
        const auto left = time_left(deadline);
        if (left.count() == 0) break;
        auto event = next(std::min(left, kStopCheckInterval));
        if (!event) {
            if (event.error_code() == ErrorCode::timed_out) continue;
            return event.failure();
        }
        ++handed_out;
        if (!on_event(*event)) break;
    }
    return handed_out;
}

const std::vector<std::string>& Events::publishers() const {
    static const std::vector<std::string> none;
    return impl_ ? impl_->publishers : none;
}

std::vector<StreamCounters> Events::counters() const { return impl_ ? impl_->tracker.counters() : std::vector<StreamCounters>{}; }

Result<std::string> publisher_endpoint(Client& client, Milliseconds timeout) {
    auto reply = client.control("status", timeout);
    if (!reply) return reply.failure();
    auto status = unpack_bounded(*reply);
    if (!status) return Error{"zq-node at " + client.endpoint() + " sent an unreadable status: " + status.error()};
    const FieldReader fields(status->get());
    const msgpack::object* fanout = fields.find("fanout");
    std::optional<std::string_view> endpoint;
    if (fanout && fanout->type == msgpack::type::MAP) endpoint = FieldReader(*fanout).string("endpoint");
    if (!endpoint || endpoint->empty()) {
        return Error{"zq-node at " + client.endpoint() +
                     " does not say where it publishes (no fanout.endpoint in its status): is it older than "
                     "this client?"};
    }
    return std::string(*endpoint);
}

Result<std::vector<Event>> fetch_history(Client& client, std::string_view job_id, Milliseconds timeout) {
    auto reply = client.control("history", job_id, timeout);
    if (!reply) return reply.failure();
    const std::string from = "zq-node at " + client.endpoint() + " sent a history ";
    auto history = unpack_bounded(*reply);
    if (!history) return Error{from + "that does not unpack: " + history.error()};
    const msgpack::object& entries = history->get();
    if (entries.type != msgpack::type::ARRAY) return Error{from + "that is not an array"};
    std::vector<Event> events;
    for (std::uint32_t i = 0; i < entries.via.array.size; ++i) {
        const msgpack::object& entry = entries.via.array.ptr[i];
        const std::string where = from + "whose entry " + std::to_string(i);
        if (entry.type != msgpack::type::ARRAY || entry.via.array.size != 2 ||
            entry.via.array.ptr[0].type != msgpack::type::STR) {
            return Error{where + " is not [command name, body]"};
        }
        const msgpack::object& name = entry.via.array.ptr[0];
        auto event = event_from_history(std::string_view(name.via.str.ptr, name.via.str.size), entry.via.array.ptr[1]);
        if (!event) return Error{where + " is unreadable: " + event.error()};
        events.push_back(std::move(*event));
    }
    return events;
}

}  // namespace zq
