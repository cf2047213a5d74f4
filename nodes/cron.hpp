// Schedules for recurring jobs: a five-field cron expression ("30 2 * * MON-FRI") evaluated in
// the wall-clock time of a time zone, or a fixed interval ("every 1h30m").
//
// The part is pure: it keeps no clock and no timer. Whoever runs schedules asks for the next
// tick after an instant and arms its own timer, so every rule here can be tested with any
// instant, including the hours around daylight-saving changes.
//
// Cron fields, as in Vixie cron (and cronie):
//   minute 0-59, hour 0-23, day-of-month 1-31, month 1-12 or JAN-DEC, day-of-week 0-7 or
//   SUN-SAT (0 and 7 are Sunday); names are case-insensitive. Each field is a list of items
//   "a,b,c", each item `*`, a value, a range `a-b`, or one of those with a step: `*/n`,
//   `a-b/n`, and `a/n` (from a to the field's end). Ranges do not wrap around.
//   When both day-of-month and day-of-week are restricted (written as anything but a bare `*`),
//   a day matches if EITHER matches: "0 0 1,15 * MON" runs on the 1st, the 15th and every
//   Monday. Otherwise both must match. (Vixie cron also treats `*/n` as unrestricted here;
//   zq does not: "*/2" restricts the days like any other list.)
//
// Daylight-saving changes, as cronie handles them. An entry is *fixed-time* when neither its
// minute nor its hour field uses `*` or a step ("30 2 * * *", "0 9,17 * * *"); every other
// entry is *periodic* ("*/15 * * * *", "0 * * * *", "0 */2 * * *", "0-59/10 3 * * *"). Vixie
// cron looks only for a leading `*`; counting steps as well makes "0-59/10" behave like "*/10".
//   - Spring forward (a gap: wall times that never happen that day). A fixed-time entry whose
//     time falls in the gap fires once, at the first instant after the gap: "30 2 * * *" in
//     Europe/Berlin on 2026-03-29 fires at 03:00 CEST. Several times in one gap fire once.
//     A periodic entry fires only at wall times that exist: "*/15 * * * *" goes 01:45 CET,
//     03:00 CEST, 15 real minutes apart, and "*/15 2 * * *" does not fire that day.
//   - Fall back (an overlap: wall times that happen twice). A fixed-time entry fires once, at
//     the first occurrence: "30 1 * * *" in America/New_York on 2026-11-01 fires at 01:30 EDT,
//     not again at 01:30 EST. A periodic entry fires at every wall time that matches, both
//     occurrences included: "*/30 * * * *" goes 01:00 EDT, 01:30 EDT, 01:00 EST, 01:30 EST,
//     02:00 EST, 30 real minutes apart, neither doubling nor skipping a real instant.
#pragma once

#include "time_zone.hpp"

#include <zq/result.hpp>

#include <bitset>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace zq::node {

// A parsed cron expression: the set of values each field allows.
struct CronExpression {
    std::string text;  // as written, for messages
    std::bitset<60> minutes;
    std::bitset<24> hours;
    std::bitset<32> days_of_month;  // bits 1-31
    std::bitset<13> months;         // bits 1-12
    std::bitset<7> days_of_week;    // bit 0 is Sunday (a written 7 sets it too)
    // Whether day-of-month and day-of-week are written as anything but `*` (the OR rule above).
    bool day_of_month_restricted = false;
    bool day_of_week_restricted = false;
    // Whether the entry is fixed-time rather than periodic (the daylight-saving rules above).
    bool fixed_time = true;
};

// Parses a five-field cron expression. Errors say which field is wrong and why, e.g.
// cron "*/0 * * * *": minute field: step 0 is not allowed
Result<CronExpression> parse_cron(std::string_view text);

// The first instant (unix ms, on a whole wall-clock minute) strictly after `after_unix_ms` at
// which `cron` fires in `zone`, under the daylight-saving rules above. None when the expression
// can never fire ("0 0 30 2 *", seen before any search), and none past the year 9999.
//
// It skips whole months, days and hours that do not match, never stepping minute by minute, and
// gives up after 400 years, one whole cycle of the Gregorian calendar (dates and weekdays repeat
// after it), so it always ends.
std::optional<std::int64_t> next_cron_tick(const CronExpression& cron, std::int64_t after_unix_ms,
                                           const TimeZone& zone);

// A fixed interval between runs, in real time (it ignores time zones and daylight saving).
struct Every {
    std::int64_t interval_ms = 0;
};

// The longest interval parse_every accepts: a schedule that runs less than once a year is
// more likely a typo than a plan.
inline constexpr std::int64_t kLongestEveryMs = 366LL * 24 * 3600 * 1000;

// Parses a duration made of a whole number and a unit, several of them from the largest unit
// down: "500ms", "30s", "5m", "1h30m", "2d", "1d12h". Units: d, h, m, s, ms. It must be
// positive and at most 366 days.
Result<Every> parse_every(std::string_view text);

}  // namespace zq::node
