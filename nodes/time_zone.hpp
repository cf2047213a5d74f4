// Time zones for schedules: the UTC offset a named zone ("Europe/Berlin") has at any instant,
// and when that offset next changes, read from the system's time zone database (the TZif files
// under /usr/share/zoneinfo, installed by the tzdata package).
//
// C++20's <chrono> has a time zone database (std::chrono::locate_zone), but the libstdc++ of
// GCC 12, which zq builds with, does not implement it (GCC 13's does, from the same files). So
// this part reads the files itself, and only what a schedule needs: the transitions a file
// lists, and the POSIX TZ rule at its end ("CET-1CEST,M3.5.0,M10.5.0/3") that carries the
// zone's daylight-saving changes on past the last listed transition. Leap-second zones
// ("right/...") are refused: their timestamps do not count seconds the way unix time does.
#pragma once

#include <zq/result.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace zq::node {

// The day of a year on which a POSIX TZ rule changes the offset, and the local time of day.
struct TzRuleDate {
    enum class Form {
        julian_without_leap_day,  // "Jn": day 1-365, February 29 never counted
        day_of_year,              // "n": day 0-365, February 29 counted
        month_week_weekday,       // "Mm.w.d": weekday d (0 = Sunday) of week w (5 = last) of month m
    };
    Form form = Form::month_week_weekday;
    int day = 0;
    int month = 0;
    int week = 0;
    int weekday = 0;
    // Seconds after local midnight (in the offset in effect before the change); RFC 8536 allows
    // it to be negative or past 24 hours.
    std::int32_t time_of_day = 2 * 3600;
};

// A POSIX TZ rule: a standard offset and, for zones with daylight saving, the daylight offset
// and the two days each year on which it begins and ends. Offsets are seconds east of UTC.
struct TzRule {
    std::int32_t standard_offset = 0;
    std::optional<std::int32_t> daylight_offset;  // none: standard time all year
    TzRuleDate daylight_begins;
    TzRuleDate daylight_ends;
};

// One change of a zone's offset: from `at` (unix seconds) on, the offset is `offset_after`.
struct TzTransition {
    std::int64_t at = 0;
    std::int32_t offset_after = 0;
};

class TimeZone {
public:
    // UTC: offset zero at every instant.
    TimeZone() = default;
    TimeZone(std::string name, std::int32_t initial_offset, std::vector<TzTransition> transitions,
             std::optional<TzRule> rule);

    const std::string& name() const { return name_; }

    // The offset from UTC in seconds, east positive (+3600 for CET), in effect at `unix_s`.
    std::int32_t utc_offset_at(std::int64_t unix_s) const;

    // The first instant after `unix_s` at which the offset changes, if it ever does.
    std::optional<std::int64_t> next_offset_change_after(std::int64_t unix_s) const;

private:
    std::int32_t rule_offset_at(std::int64_t unix_s) const;
    std::optional<std::int64_t> next_rule_change_after(std::int64_t unix_s) const;
    bool rule_governs(std::int64_t unix_s) const;

    std::string name_ = "UTC";
    // The offset before the first transition (RFC 8536: local time type 0).
    std::int32_t initial_offset_ = 0;
    // Sorted by `at`; only entries that change the offset.
    std::vector<TzTransition> transitions_;
    // Governs instants from the last transition on; none: the last offset holds forever.
    std::optional<TzRule> rule_;
};

// The largest UTC offset a zone may have, either way (RFC 8536 recommends at most 25:59:59).
// Zones whose files claim more are refused, so schedules can rely on it.
inline constexpr std::int32_t kLargestUtcOffset = 26 * 3600;

// The directory the tzdata package installs compiled zones into.
inline constexpr std::string_view kZoneInfoDir = "/usr/share/zoneinfo";

// The zone named `name` (an IANA name such as "America/New_York"), read from `zoneinfo_dir`.
// "" and "UTC" are UTC without reading a file. Unknown names, names that try to leave the
// directory, and unreadable or malformed files are errors that name the zone.
Result<TimeZone> find_time_zone(std::string_view name, std::string_view zoneinfo_dir = kZoneInfoDir);

// The zone described by the TZif file contents `bytes` (RFC 8536, versions 1 to 4).
Result<TimeZone> parse_tzif(std::string_view name, std::string_view bytes);

// The rule in a POSIX TZ string such as "EST5EDT,M3.2.0,M11.1.0" or "<+0530>-5:30".
Result<TzRule> parse_posix_tz(std::string_view text);

}  // namespace zq::node
