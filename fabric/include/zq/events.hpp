// Following what nodes publish: job events, the protocol tap and broadcasts.
//
//   zq::Subscription subscription;
//   subscription.nodes = {"ipc:///var/lib/zq/node.sock"};    // client endpoints, as zq-send takes
//   subscription.filter.states = {"failed"};
//   auto events = zq::Events::open(subscription);            // connected when it returns
//   while (auto event = events->next(std::chrono::seconds(1))) report(*event);
//
// Each node publishes on one PUB socket (docs/protocol.md, "Fanout"): EVENT on topics
// `E/STATE/QUEUE/TASK`, TAP on `T/COMMAND`, BROADCAST on `B`, each stream numbered 1, 2, 3...
// per publisher incarnation. A subscriber is given a node's client endpoint and asks it (CONTROL
// `status`, `fanout.endpoint`) where it publishes, or is given the publisher endpoint itself.
//
// A node publishes job events only while someone subscribes to them (its PUB socket is an
// XPUB) or its tap is on: open() returns once the connections are made, and the node starts
// publishing events as soon as it has read the subscription, normally before anything the
// caller does next reaches it.
//
// Events and taps are not repaired: when a stream's sequence number jumps, next() hands out an
// Event of kind `gap` naming the missing range before the message that revealed it, and
// counters() keeps the totals. That is only meaningful when the whole stream is received, so
// the subscriber subscribes to whole streams (`E/`, `T/`, `B`) and filters everything else on
// the decoded fields, here in the client.
//
// Nothing throws across this interface. An Events object owns its sockets and is not
// thread-safe: use one per thread.
#pragma once

#include <zq/client.hpp>
#include <zq/codec.hpp>
#include <zq/result.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace zq {

enum class EventKind : std::uint8_t {
    event,      // EVENT: a job transition a node journaled
    tap,        // TAP: a ZQP message a node sent or received
    broadcast,  // BROADCAST: a task published to run on every node
    gap,        // messages of one publisher's stream that this subscriber never received
};

std::string_view to_string(EventKind kind);
std::optional<EventKind> event_kind_from_string(std::string_view name);

// One message from a publisher, decoded. Fields a message does not carry are empty (or 0).
struct Event {
    EventKind kind = EventKind::event;
    std::string node;         // the publisher
    std::string incarnation;  // the publisher's boot id: sequence numbers are per incarnation
    std::uint64_t seq = 0;    // position in the publisher's stream (0 for a gap)
    std::uint64_t time_us = 0;  // unix µs when it happened (field `t`)
    std::string id;           // job id; a broadcast's run on a node is ID@NODE
    std::string state;
    std::string task;
    std::string queue;  // for a tap, the tapped envelope's queue when it carries one
    std::string error;
    std::uint32_t attempts = 0;         // runs of the job started so far (retrying)
    std::int64_t next_attempt_ms = 0;   // unix ms: a retrying job's next attempt, a scheduled one's ETA
    std::string workflow;   // a workflow step's workflow id and position (field `wf`)
    std::string step;
    std::string direction;  // tap only: "in" (received) or "out" (sent)
    std::string peer;       // tap only: a node name, or client:HEX
    // EVENT or BROADCAST; for a tap, the tapped command's name (SUBMIT, STATE...); for a gap,
    // the command of the stream it is in (EVENT, TAP or BROADCAST).
    std::string command;
    // msgpack bytes: the tapped message's body (empty when the node left it out), or a
    // broadcast's whole body.
    std::string body;
    std::uint64_t gap_from = 0;  // gap only: the first and last missing sequence numbers
    std::uint64_t gap_to = 0;
};

// The stream an event travels on, named by its command: EVENT, TAP or BROADCAST.
std::string_view stream_of(const Event& event);
bool is_terminal_state(std::string_view state);

// Decodes a message read from a PUB socket (after its topic frame): EVENT, TAP or BROADCAST.
Result<Event> event_from_message(const Message& message);
// Decodes one entry of a node's retained history: a command name and its body.
Result<Event> event_from_history(std::string_view command_name, const msgpack::object& body);

// Which events a subscriber wants. An empty list accepts anything; a non-empty one accepts an
// event whose field equals one of its items. Gaps pass every criterion but `nodes` and the
// stream switches, since they are about a stream, not a job.
struct EventFilter {
    std::vector<std::string> nodes;     // publishing node names
    // EVENT, TAP, BROADCAST, or a tapped command name (SUBMIT, FORWARD, STATE...); any case.
    std::vector<std::string> commands;
    std::vector<std::string> queues;
    std::vector<std::string> tasks;
    std::vector<std::string> states;
    std::string job;  // matches id == job, and a broadcast's runs, id == job + "@" + node
    bool events = true;
    bool tap = true;
    bool broadcasts = true;

    bool matches(const Event& event) const;
};

struct Subscription {
    // Node client endpoints (ipc:///DATA/node.sock, tcp://host:port): each is asked for the
    // endpoint it publishes on.
    std::vector<std::string> nodes;
    // Publisher endpoints, connected as given (no status lookup).
    std::vector<std::string> publishers;
    EventFilter filter;
    // For each status lookup, and for all connections to be made.
    Milliseconds timeout = kDefaultTimeout;
    // CURVE credentials for tcp endpoints (nodes and publishers). A node publishes with the
    // key pair it serves clients with, so one server key covers a node and its publisher; a
    // subscription to several nodes over tcp needs them to share a key pair.
    Credentials credentials;
};

// How much of one publisher's stream this subscriber saw.
struct StreamCounters {
    std::string node;
    std::string stream;  // EVENT, TAP or BROADCAST
    std::string incarnation;
    std::uint64_t last_seq = 0;
    std::uint64_t received = 0;
    std::uint64_t missed = 0;  // messages inside gaps
};

class Events {
public:
    // Looks the publishers up, subscribes, and returns once every connection is made, so that
    // whatever the nodes publish after it returns is received. ErrorCode::unreachable when a
    // node does not answer or its publisher cannot be reached, failed when a node does not
    // publish, bad_input for a malformed endpoint.
    static Result<Events> open(Subscription subscription);

    ~Events();
    Events(Events&&) noexcept;
    Events& operator=(Events&&) noexcept;
    Events(const Events&) = delete;
    Events& operator=(const Events&) = delete;

    // The next event that passes the filter; ErrorCode::timed_out when none came in time.
    Result<Event> next(Milliseconds timeout);
    // Hands each event that passes the filter to `on_event` until it returns false, the
    // timeout passes, or `stop` (asked between events, at least every 100 ms) returns true.
    // Returns how many events were handed out.
    Result<std::uint64_t> run(const std::function<bool(const Event&)>& on_event, Milliseconds timeout,
                              const std::function<bool()>& stop = {});

    // The publisher endpoints connected, in the order given.
    const std::vector<std::string>& publishers() const;
    std::vector<StreamCounters> counters() const;

private:
    struct Impl;
    explicit Events(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

// Where the node at `client` publishes: `fanout.endpoint` from its status.
Result<std::string> publisher_endpoint(Client& client, Milliseconds timeout = kDefaultTimeout);

// The EVENT and TAP messages the node still keeps, oldest first (CONTROL `history`); with a
// job id, only those about that job and its broadcast runs.
Result<std::vector<Event>> fetch_history(Client& client, std::string_view job_id = {},
                                         Milliseconds timeout = kDefaultTimeout);

}  // namespace zq
