#include "event_format.hpp"

#include <zq/json.hpp>
#include <zq/time_text.hpp>

#include <cinttypes>
#include <cstdio>
#include <ctime>

namespace zq::trace {

namespace {

// Column widths: the longest usual value of each, so that ordinary lines align; a longer
// value (a long node name, a broadcast run ID@NODE) pushes the rest of its line right.
constexpr std::size_t kNodeWidth = 10;
constexpr std::size_t kDirectionWidth = 3;   // "out"
constexpr std::size_t kPeerWidth = 17;       // "client:" and a 5-byte zmq routing identity in hex
constexpr std::size_t kCommandWidth = 13;    // "CONTROL-REPLY"
constexpr std::size_t kIdWidth = 36;         // a UUID
constexpr std::size_t kTaskWidth = 12;
constexpr std::size_t kExtraWidth = 11;      // "+999.999ms"

// What an empty field shows, so that every column stays one word.
constexpr std::string_view kEmpty = "-";
// DIR of what is not a tapped message (an event, a broadcast, a gap).
constexpr std::string_view kNoDirection = "--";

void append_column(std::string& line, std::string_view value, std::size_t width) {
    if (value.empty()) value = kEmpty;
    line += value;
    line.append(value.size() < width ? width - value.size() : 0, ' ');
    line += "  ";
}

std::tm local_time(std::uint64_t time_us) {
    const std::time_t seconds = static_cast<std::time_t>(time_us / 1'000'000);
    std::tm parts{};
    localtime_r(&seconds, &parts);
    return parts;
}

std::string formatted(std::uint64_t time_us, const char* date_format, bool with_offset) {
    const std::tm parts = local_time(time_us);
    char date[64];
    std::strftime(date, sizeof date, date_format, &parts);
    char text[96];
    std::snprintf(text, sizeof text, "%s.%06u", date, static_cast<unsigned>(time_us % 1'000'000));
    std::string result(text);
    if (with_offset) {
        char offset[16];
        std::strftime(offset, sizeof offset, "%z", &parts);
        result += offset;
    }
    return result;
}

nlohmann::json text_or_null(const std::string& text) {
    return text.empty() ? nlohmann::json(nullptr) : nlohmann::json(text);
}

std::string text_field(const nlohmann::json& object, const char* key) {
    auto found = object.find(key);
    if (found == object.end() || !found->is_string()) return {};
    return found->get<std::string>();
}

std::uint64_t number_field(const nlohmann::json& object, const char* key) {
    auto found = object.find(key);
    if (found == object.end() || !found->is_number_unsigned()) return 0;
    return found->get<std::uint64_t>();
}

}  // namespace

std::string clock_time(std::uint64_t time_us) { return formatted(time_us, "%H:%M:%S", false); }

std::string iso_time(std::uint64_t time_us) { return formatted(time_us, "%Y-%m-%dT%H:%M:%S", true); }

std::string delta_text(std::int64_t delta_us) {
    char text[48];
    std::snprintf(text, sizeof text, "%+.3fms", static_cast<double>(delta_us) / 1000.0);
    return text;
}

std::string format_line(const Event& event, std::string_view extra) {
    std::string line = clock_time(event.time_us) + "  ";
    if (!extra.empty()) append_column(line, extra, kExtraWidth);
    append_column(line, event.node, kNodeWidth);
    append_column(line, event.kind == EventKind::tap ? std::string_view(event.direction) : kNoDirection,
                  kDirectionWidth);
    append_column(line, event.peer, kPeerWidth);
    if (event.kind == EventKind::gap) {
        // "GAP  TAP  seq 5..7 lost (3 messages)"
        append_column(line, "GAP", kCommandWidth);
        line += event.command + "  seq " + std::to_string(event.gap_from) + ".." + std::to_string(event.gap_to) +
                " lost (" + std::to_string(event.gap_to - event.gap_from + 1) + " messages)";
        return line;
    }
    append_column(line, event.command, kCommandWidth);
    append_column(line, event.id, kIdWidth);
    append_column(line, event.task, kTaskWidth);
    line += event.state.empty() ? kEmpty : std::string_view(event.state);
    // JSON-quoted, so that an error text with line breaks stays on its line.
    if (!event.error.empty()) line += "  err=" + dump_json(event.error);
    if (event.attempts > 0) line += "  attempts=" + std::to_string(event.attempts);
    if (event.next_attempt_ms > 0) {
        line += (event.state == "scheduled" ? "  eta=" : "  next=") + format_rfc3339(event.next_attempt_ms);
    }
    if (!event.workflow.empty()) line += "  workflow=" + event.workflow + "  step=" + event.step;
    return line;
}

nlohmann::json event_to_json(const Event& event) {
    nlohmann::json object = {
        {"time_us", event.time_us},
        {"time", iso_time(event.time_us)},
        {"node", event.node},
        {"inc", text_or_null(event.incarnation)},
        {"seq", event.seq},
        {"kind", std::string(to_string(event.kind))},
        {"dir", text_or_null(event.direction)},
        {"peer", text_or_null(event.peer)},
        {"cmd", text_or_null(event.command)},
        {"id", text_or_null(event.id)},
        {"task", text_or_null(event.task)},
        {"st", text_or_null(event.state)},
        {"q", text_or_null(event.queue)},
        {"err", text_or_null(event.error)},
        {"attempts", event.attempts},
        {"next_attempt", event.next_attempt_ms > 0 ? nlohmann::json(format_rfc3339(event.next_attempt_ms)) : nullptr},
        {"body", packed_to_json(event.body)},
        {"workflow", text_or_null(event.workflow)},
        {"step", text_or_null(event.step)},
    };
    if (event.kind == EventKind::gap) {
        object["from"] = event.gap_from;
        object["to"] = event.gap_to;
    }
    return object;
}

std::string render(const Event& event, bool json) {
    return json ? dump_json(event_to_json(event)) : format_line(event);
}

Result<Event> event_from_json(const nlohmann::json& object) {
    if (!object.is_object()) return Error{"not a JSON object", ErrorCode::bad_input};
    Event event;
    const std::string kind = text_field(object, "kind");
    auto parsed_kind = event_kind_from_string(kind);
    if (!parsed_kind) {
        return Error{"unknown kind '" + kind + "' (expected event, tap, broadcast or gap)", ErrorCode::bad_input};
    }
    event.kind = *parsed_kind;
    event.node = text_field(object, "node");
    if (event.node.empty()) return Error{"no node", ErrorCode::bad_input};
    event.incarnation = text_field(object, "inc");
    event.seq = number_field(object, "seq");
    event.time_us = number_field(object, "time_us");
    event.direction = text_field(object, "dir");
    event.peer = text_field(object, "peer");
    event.command = text_field(object, "cmd");
    event.id = text_field(object, "id");
    event.task = text_field(object, "task");
    event.state = text_field(object, "st");
    event.queue = text_field(object, "q");
    event.error = text_field(object, "err");
    event.attempts = static_cast<std::uint32_t>(number_field(object, "attempts"));
    event.workflow = text_field(object, "workflow");
    event.step = text_field(object, "step");
    if (auto next = object.find("next_attempt"); next != object.end() && next->is_string()) {
        if (auto ms = parse_rfc3339(next->get<std::string>())) event.next_attempt_ms = *ms;
    }
    if (auto body = object.find("body"); body != object.end() && !body->is_null()) event.body = pack_json(*body);
    event.gap_from = number_field(object, "from");
    event.gap_to = number_field(object, "to");
    return event;
}

}  // namespace zq::trace
