// What one published message says: EVENT, TAP and BROADCAST bodies decoded into an Event, and
// the client-side filter (see events.hpp).
#include <zq/events.hpp>

#include <zq/protocol.hpp>

#include <algorithm>
#include <array>
#include <cctype>

namespace zq {

namespace {

namespace f = protocol::field;
using protocol::Command;

constexpr std::array<std::string_view, 4> kKindNames = {"event", "tap", "broadcast", "gap"};
constexpr std::array<std::string_view, 4> kTerminalStates = {"succeeded", "failed", "error", "canceled"};

std::string text(const FieldReader& fields, std::string_view key) {
    return std::string(fields.string(key).value_or(""));
}

std::string upper(std::string_view name) {
    std::string result(name);
    for (char& c : result) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return result;
}

bool accepts(const std::vector<std::string>& allowed, std::string_view value) {
    return allowed.empty() || std::find(allowed.begin(), allowed.end(), value) != allowed.end();
}

// The fields every published message shares: who published it, where in which stream, when.
void read_publisher_fields(const FieldReader& fields, Event& event) {
    event.node = text(fields, f::node);
    event.incarnation = text(fields, f::incarnation);
    event.seq = fields.unsigned_integer(f::sequence).value_or(0);
    event.time_us = fields.unsigned_integer(f::time_us).value_or(0);
    event.id = text(fields, f::id);
    event.state = text(fields, f::state);
    event.task = text(fields, f::task);
    event.queue = text(fields, f::queue);
    event.error = text(fields, f::error);
    event.attempts = static_cast<std::uint32_t>(fields.unsigned_integer(f::attempts).value_or(0));
    event.next_attempt_ms = static_cast<std::int64_t>(fields.unsigned_integer(f::next_attempt).value_or(0));
    if (const msgpack::object* workflow = fields.find(f::workflow);
        workflow && workflow->type == msgpack::type::ARRAY && workflow->via.array.size >= 2 &&
        workflow->via.array.ptr[0].type == msgpack::type::STR && workflow->via.array.ptr[1].type == msgpack::type::STR) {
        event.workflow.assign(workflow->via.array.ptr[0].via.str.ptr, workflow->via.array.ptr[0].via.str.size);
        event.step.assign(workflow->via.array.ptr[1].via.str.ptr, workflow->via.array.ptr[1].via.str.size);
    }
}

}  // namespace

std::string_view to_string(EventKind kind) { return kKindNames[static_cast<std::size_t>(kind)]; }

std::optional<EventKind> event_kind_from_string(std::string_view name) {
    for (std::size_t i = 0; i < kKindNames.size(); ++i) {
        if (kKindNames[i] == name) return static_cast<EventKind>(i);
    }
    return std::nullopt;
}

std::string_view stream_of(const Event& event) {
    switch (event.kind) {
    case EventKind::event: return protocol::command_name(Command::event);
    case EventKind::tap: return protocol::command_name(Command::tap);
    case EventKind::broadcast: return protocol::command_name(Command::broadcast);
    case EventKind::gap: return event.command;
    }
    return event.command;
}

bool is_terminal_state(std::string_view state) {
    return std::find(kTerminalStates.begin(), kTerminalStates.end(), state) != kTerminalStates.end();
}

Result<Event> event_from_message(const Message& message) {
    Event event;
    read_publisher_fields(message, event);
    switch (message.command()) {
    case Command::event:
        event.kind = EventKind::event;
        event.command = protocol::command_name(Command::event);
        return event;
    case Command::tap: {
        event.kind = EventKind::tap;
        event.direction = text(message, f::direction);
        event.peer = text(message, f::peer);
        event.command = text(message, f::command);
        event.body = message.packed(f::body).value_or("");
        // The tap names the job and task; the queue is only in the tapped envelope.
        if (const msgpack::object* body = message.find(f::body); body && body->type == msgpack::type::MAP) {
            const FieldReader tapped(*body);
            if (event.queue.empty()) event.queue = text(tapped, f::queue);
            if (event.task.empty()) event.task = text(tapped, f::task);
        }
        return event;
    }
    case Command::broadcast:
        if (event.node.empty()) return Error{"BROADCAST published without the origin's node name"};
        event.kind = EventKind::broadcast;
        event.command = protocol::command_name(Command::broadcast);
        event.body = pack(message.body());
        return event;
    default:
        return Error{std::string(protocol::command_name(message.command())) +
                     " is not published on the fanout streams (expected EVENT, TAP or BROADCAST)"};
    }
}

Result<Event> event_from_history(std::string_view command_name, const msgpack::object& body) {
    // Through the codec, so that a history entry is checked against the same field table as
    // a live message.
    for (const auto& spec : protocol::kCommands) {
        if (spec.name != command_name) continue;
        const char code = static_cast<char>(spec.command);
        auto message = decode(protocol::kHeader, std::string_view(&code, 1), pack(body));
        if (!message) return Error{"history entry: " + message.error()};
        return event_from_message(*message);
    }
    return Error{"history entry of unknown command '" + std::string(command_name) + "'"};
}

bool EventFilter::matches(const Event& event) const {
    if (!accepts(nodes, event.node)) return false;
    const std::string_view stream = stream_of(event);
    if (stream == protocol::command_name(Command::event) && !events) return false;
    if (stream == protocol::command_name(Command::tap) && !tap) return false;
    if (stream == protocol::command_name(Command::broadcast) && !broadcasts) return false;
    if (event.kind == EventKind::gap) return true;

    if (!commands.empty()) {
        const bool named = std::any_of(commands.begin(), commands.end(), [&](const std::string& wanted) {
            const std::string name = upper(wanted);
            return name == event.command || (event.kind == EventKind::tap && name == stream);
        });
        if (!named) return false;
    }
    if (!job.empty() && event.id != job &&
        !(event.id.size() > job.size() + 1 && event.id.starts_with(job) && event.id[job.size()] == '@')) {
        return false;
    }
    return accepts(queues, event.queue) && accepts(tasks, event.task) && accepts(states, event.state);
}

}  // namespace zq
