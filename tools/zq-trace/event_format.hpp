// How zq-trace shows an event: one aligned text line, or one JSON object. The JSON object is
// also the line format of a recording (--record), so it holds every decoded field, and
// event_from_json() reads it back into the same Event (--replay).
#pragma once

#include <zq/events.hpp>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace zq::trace {

// Local wall time of a unix µs timestamp: "14:03:12.345678".
std::string clock_time(std::uint64_t time_us);
// The same with the date and the offset from UTC: "2024-05-01T14:03:12.345678+0200".
std::string iso_time(std::uint64_t time_us);
// "+0.183ms": a duration between two events.
std::string delta_text(std::int64_t delta_us);

// TIME [EXTRA] NODE DIR PEER COMMAND ID TASK STATE [err="..."], in fixed-width columns with
// "-" for an empty field, so that lines align and every column is one word (awk '{print $6}'
// is always the job id). DIR is "--" for what is not a tapped message. `extra` (a delta)
// goes after the time when given.
std::string format_line(const Event& event, std::string_view extra = {});

// {time_us, time, node, inc, seq, kind, dir, peer, cmd, id, task, st, q, err, body}, plus
// {from, to} for a gap; absent fields are null, `body` is the tapped body as JSON.
nlohmann::json event_to_json(const Event& event);
// The line zq-trace prints for an event: format_line(), or event_to_json() as one line.
std::string render(const Event& event, bool json);
Result<Event> event_from_json(const nlohmann::json& object);

}  // namespace zq::trace
