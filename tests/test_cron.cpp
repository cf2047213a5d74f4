// Cron schedules checked against tables of expected next ticks. Times in the tables are wall
// clock with their UTC offset ("2026-03-29 03:00 +02:00"), so each row also says which side of
// a daylight-saving change the tick falls on; the 2026 changes are:
//   America/New_York  2026-03-08 02:00 EST -> 03:00 EDT,  2026-11-01 02:00 EDT -> 01:00 EST
//   Europe/Berlin     2026-03-29 02:00 CET -> 03:00 CEST, 2026-10-25 03:00 CEST -> 02:00 CET
#include "cron.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

using zq::node::CronExpression;
using zq::node::Every;
using zq::node::find_time_zone;
using zq::node::next_cron_tick;
using zq::node::parse_cron;
using zq::node::parse_every;
using zq::node::TimeZone;

namespace {

// "YYYY-MM-DD HH:MM[:SS] +HH:MM" as unix milliseconds.
std::int64_t at(const std::string& text) {
    int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0, offset_hours = 0, offset_minutes = 0;
    char sign = '+';
    const bool with_seconds = std::count(text.begin(), text.end(), ':') == 3;
    if (with_seconds) {
        REQUIRE(std::sscanf(text.c_str(), "%d-%d-%d %d:%d:%d %c%d:%d", &year, &month, &day, &hour, &minute, &second,
                            &sign, &offset_hours, &offset_minutes) == 9);
    } else {
        REQUIRE(std::sscanf(text.c_str(), "%d-%d-%d %d:%d %c%d:%d", &year, &month, &day, &hour, &minute, &sign,
                            &offset_hours, &offset_minutes) == 8);
    }
    using namespace std::chrono;
    const sys_days date{std::chrono::year{year} / std::chrono::month{unsigned(month)} /
                        std::chrono::day{unsigned(day)}};
    const std::int64_t offset =
        (sign == '-' ? -1 : 1) * (std::int64_t{offset_hours} * 3600 + std::int64_t{offset_minutes} * 60);
    const std::int64_t seconds = date.time_since_epoch().count() * std::int64_t{86400} + std::int64_t{hour} * 3600 +
                                 std::int64_t{minute} * 60 + second;
    return (seconds - offset) * 1000;
}

// A tick as UTC text, so a failed check shows both instants readably.
std::string utc(std::optional<std::int64_t> unix_ms) {
    if (!unix_ms) return "never";
    using namespace std::chrono;
    const sys_seconds instant{seconds{*unix_ms / 1000}};
    const auto day = floor<days>(instant);
    const year_month_day date{day};
    const hh_mm_ss time{instant - day};
    char text[40];
    std::snprintf(text, sizeof text, "%04d-%02u-%02u %02ld:%02ld:%02ld UTC", int(date.year()), unsigned(date.month()),
                  unsigned(date.day()), long(time.hours().count()), long(time.minutes().count()),
                  long(time.seconds().count()));
    return text;
}

CronExpression cron(std::string_view text) {
    auto parsed = parse_cron(text);
    INFO((parsed.ok() ? std::string() : parsed.error()));
    REQUIRE(parsed.ok());
    return *parsed;
}

TimeZone zone(std::string_view name) {
    auto found = find_time_zone(name);
    INFO((found.ok() ? std::string() : found.error()));
    REQUIRE(found.ok());
    return *found;
}

// One row: the expression, the zone, the instant to search after, and the tick expected
// (nullptr: never).
struct TickCase {
    const char* cron;
    const char* zone;
    const char* after;
    const char* expected;
};

void check_ticks(const std::vector<TickCase>& table) {
    for (const auto& row : table) {
        INFO("\"" << row.cron << "\" in " << (*row.zone ? row.zone : "UTC") << " after " << row.after);
        const auto tick = next_cron_tick(cron(row.cron), at(row.after), zone(row.zone));
        CHECK(utc(tick) == (row.expected ? utc(at(row.expected)) : "never"));
    }
}

// The ticks one after another, each searched from the one before: what a scheduler would run.
void check_sequence(const char* expression, const char* zone_name, const char* after,
                    const std::vector<const char*>& expected) {
    INFO("\"" << expression << "\" in " << zone_name << " after " << after);
    const CronExpression parsed = cron(expression);
    const TimeZone tz = zone(zone_name);
    std::optional<std::int64_t> tick = at(after);
    for (const char* next : expected) {
        tick = next_cron_tick(parsed, *tick, tz);
        REQUIRE(utc(tick) == utc(at(next)));
    }
}

}  // namespace

TEST_CASE("plain expressions in UTC fire at the next matching minute, strictly after the instant") {
    check_ticks({
        {"* * * * *", "UTC", "2026-01-01 00:00 +00:00", "2026-01-01 00:01 +00:00"},
        {"* * * * *", "UTC", "2026-01-01 00:00:30 +00:00", "2026-01-01 00:01 +00:00"},
        {"0 * * * *", "UTC", "2026-01-01 00:00 +00:00", "2026-01-01 01:00 +00:00"},
        {"30 2 * * *", "UTC", "2026-01-01 02:29:59 +00:00", "2026-01-01 02:30 +00:00"},
        {"30 2 * * *", "UTC", "2026-01-01 02:30 +00:00", "2026-01-02 02:30 +00:00"},
        {"0 0 1 1 *", "", "2026-06-15 12:00 +00:00", "2027-01-01 00:00 +00:00"},
        {"59 23 31 12 *", "", "2026-12-31 23:59 +00:00", "2027-12-31 23:59 +00:00"},
    });
}

TEST_CASE("a tick counts only when it is later than the instant, to the millisecond") {
    const CronExpression daily = cron("30 2 * * *");
    const TimeZone utc_zone;
    const std::int64_t tick = at("2026-01-01 02:30 +00:00");
    CHECK(next_cron_tick(daily, tick - 1, utc_zone) == tick);
    CHECK(next_cron_tick(daily, tick, utc_zone) == at("2026-01-02 02:30 +00:00"));
    CHECK(next_cron_tick(daily, tick - std::int64_t{24} * 3600 * 1000 + 1, utc_zone) == tick);
}

TEST_CASE("steps, ranges and lists select the values they name") {
    check_ticks({
        {"*/15 * * * *", "UTC", "2026-01-01 10:07 +00:00", "2026-01-01 10:15 +00:00"},
        {"*/15 * * * *", "UTC", "2026-01-01 10:45 +00:00", "2026-01-01 11:00 +00:00"},
        {"5-59/20 * * * *", "UTC", "2026-01-01 10:46 +00:00", "2026-01-01 11:05 +00:00"},
        {"10/25 * * * *", "UTC", "2026-01-01 10:35 +00:00", "2026-01-01 11:10 +00:00"},
        {"0 9-17/4 * * *", "UTC", "2026-01-01 13:00 +00:00", "2026-01-01 17:00 +00:00"},
        {"0 9-17/4 * * *", "UTC", "2026-01-01 17:00 +00:00", "2026-01-02 09:00 +00:00"},
        {"0 0 * * 1-5", "UTC", "2026-01-02 00:00 +00:00", "2026-01-05 00:00 +00:00"},  // Friday to Monday
        {"0 12 1,15,31 * *", "UTC", "2026-01-15 12:00 +00:00", "2026-01-31 12:00 +00:00"},
        {"0 12 1,15,31 * *", "UTC", "2026-02-15 12:00 +00:00", "2026-03-01 12:00 +00:00"},
        {"0 0 * 1,6 *", "UTC", "2026-01-31 00:00 +00:00", "2026-06-01 00:00 +00:00"},
        {"0,30 8-9 * * *", "UTC", "2026-01-01 09:30 +00:00", "2026-01-02 08:00 +00:00"},
    });
}

TEST_CASE("month and day names are case-insensitive, and day 7 is Sunday like day 0") {
    // 2026-01-01 is a Thursday.
    check_ticks({
        {"0 0 1 jan,Jul *", "UTC", "2026-01-01 00:00 +00:00", "2026-07-01 00:00 +00:00"},
        {"0 8 * * MON-fri", "UTC", "2026-01-03 00:00 +00:00", "2026-01-05 08:00 +00:00"},
        {"0 8 * * 7", "UTC", "2026-01-01 00:00 +00:00", "2026-01-04 08:00 +00:00"},
        {"0 8 * * 0", "UTC", "2026-01-01 00:00 +00:00", "2026-01-04 08:00 +00:00"},
        {"0 8 * * sun", "UTC", "2026-01-01 00:00 +00:00", "2026-01-04 08:00 +00:00"},
        {"0 0 * * 5-7", "UTC", "2026-01-03 00:00 +00:00", "2026-01-04 00:00 +00:00"},
        {"0 0 1 DEC-dec *", "UTC", "2026-01-01 00:00 +00:00", "2026-12-01 00:00 +00:00"},
    });
}

TEST_CASE("when day-of-month and day-of-week are both restricted, either one selects the day") {
    check_ticks({
        // The 13th or any Friday.
        {"0 0 13 * 5", "UTC", "2026-01-01 00:00 +00:00", "2026-01-02 00:00 +00:00"},
        {"0 0 13 * 5", "UTC", "2026-01-09 00:00 +00:00", "2026-01-13 00:00 +00:00"},
        // Only one restricted: that one alone decides.
        {"0 0 13 * *", "UTC", "2026-01-01 00:00 +00:00", "2026-01-13 00:00 +00:00"},
        {"0 0 * * 5", "UTC", "2026-01-10 00:00 +00:00", "2026-01-16 00:00 +00:00"},
        // A stepped field is restricted too: days 1, 11, 21, 31 or any Monday.
        {"0 0 */10 * 1", "UTC", "2026-01-01 00:00 +00:00", "2026-01-05 00:00 +00:00"},
        // February has no 30th, but it has Mondays.
        {"0 0 30 2 1", "UTC", "2026-01-01 00:00 +00:00", "2026-02-02 00:00 +00:00"},
    });
}

TEST_CASE("month ends are skipped where a month is short, and February 29 waits for a leap year") {
    check_ticks({
        {"0 0 31 * *", "UTC", "2026-01-31 00:00 +00:00", "2026-03-31 00:00 +00:00"},
        {"0 0 31 4-12 *", "UTC", "2026-04-01 00:00 +00:00", "2026-05-31 00:00 +00:00"},
        {"0 0 29 2 *", "UTC", "2026-01-01 00:00 +00:00", "2028-02-29 00:00 +00:00"},
        {"0 0 29 2 *", "UTC", "2028-02-29 00:00 +00:00", "2032-02-29 00:00 +00:00"},
        // 2100 is not a leap year: eight years from 2096 to the next February 29.
        {"0 0 29 2 *", "UTC", "2096-03-01 00:00 +00:00", "2104-02-29 00:00 +00:00"},
        {"0 0 29 2 *", "Europe/Berlin", "2026-01-01 00:00 +01:00", "2028-02-29 00:00 +01:00"},
    });
}

TEST_CASE("an expression that can never fire has no next tick") {
    check_ticks({
        {"0 0 30 2 *", "UTC", "2026-01-01 00:00 +00:00", nullptr},
        {"0 0 31 2 *", "America/New_York", "2026-01-01 00:00 -05:00", nullptr},
        {"0 0 31 4,6,9,11 *", "Europe/Berlin", "2026-01-01 00:00 +01:00", nullptr},
        {"* * 30,31 feb *", "Asia/Kolkata", "2026-01-01 00:00 +05:30", nullptr},
    });
}

TEST_CASE("the flags for the day rule and for daylight saving follow how the fields are written") {
    CHECK(cron("30 2 * * *").fixed_time);
    CHECK(cron("0 9,17 * * *").fixed_time);
    CHECK_FALSE(cron("*/15 * * * *").fixed_time);
    CHECK_FALSE(cron("0 * * * *").fixed_time);
    CHECK_FALSE(cron("0 */2 * * *").fixed_time);
    CHECK_FALSE(cron("0-59/10 3 * * *").fixed_time);
    CHECK_FALSE(cron("0 0 * * *").day_of_month_restricted);
    CHECK(cron("0 0 */2 * *").day_of_month_restricted);
    CHECK(cron("0 0 * * 1").day_of_week_restricted);
}

TEST_CASE("in New York in spring, a fixed time in the skipped hour fires once when the gap ends") {
    check_ticks({
        {"30 2 * * *", "America/New_York", "2026-03-07 03:00 -05:00", "2026-03-08 03:00 -04:00"},
        {"30 2 * * *", "America/New_York", "2026-03-08 03:00 -04:00", "2026-03-09 02:30 -04:00"},
        // A fixed time just after the gap is not doubled by the gap's firing.
        {"0 3 * * *", "America/New_York", "2026-03-07 12:00 -05:00", "2026-03-08 03:00 -04:00"},
        // A periodic entry whose hour is skipped does not fire that day.
        {"*/15 2 * * *", "America/New_York", "2026-03-07 03:00 -05:00", "2026-03-09 02:00 -04:00"},
    });
    // Two fixed times in the gap fire once, together with 03:00.
    check_sequence("0,30 2-3 * * *", "America/New_York", "2026-03-08 00:00 -05:00",
                   {"2026-03-08 03:00 -04:00", "2026-03-08 03:30 -04:00", "2026-03-09 02:00 -04:00"});
}

TEST_CASE("in New York in spring, every 30 minutes stays 30 real minutes apart across the gap") {
    check_sequence("*/30 * * * *", "America/New_York", "2026-03-08 01:00 -05:00",
                   {"2026-03-08 01:30 -05:00", "2026-03-08 03:00 -04:00", "2026-03-08 03:30 -04:00"});
}

TEST_CASE("in New York in autumn, a fixed time in the repeated hour fires once, at its first occurrence") {
    check_ticks({
        {"30 1 * * *", "America/New_York", "2026-10-31 12:00 -04:00", "2026-11-01 01:30 -04:00"},
        {"30 1 * * *", "America/New_York", "2026-11-01 01:30 -04:00", "2026-11-02 01:30 -05:00"},
        // Searching from inside the second pass of the hour: 01:30 already fired in the first.
        {"30 1 * * *", "America/New_York", "2026-11-01 01:10 -05:00", "2026-11-02 01:30 -05:00"},
        {"30 1 * * *", "America/New_York", "2026-11-01 01:45 -04:00", "2026-11-02 01:30 -05:00"},
    });
}

TEST_CASE("in New York in autumn, periodic entries fire through both passes of the repeated hour") {
    check_sequence("*/30 * * * *", "America/New_York", "2026-11-01 00:30 -04:00",
                   {"2026-11-01 01:00 -04:00", "2026-11-01 01:30 -04:00", "2026-11-01 01:00 -05:00",
                    "2026-11-01 01:30 -05:00", "2026-11-01 02:00 -05:00"});
    check_sequence("0 * * * *", "America/New_York", "2026-11-01 00:00 -04:00",
                   {"2026-11-01 01:00 -04:00", "2026-11-01 01:00 -05:00", "2026-11-01 02:00 -05:00"});
}

TEST_CASE("in Berlin in spring, a fixed time in the skipped hour fires at 03:00 and periodic entries skip it") {
    check_ticks({
        {"30 2 * * *", "Europe/Berlin", "2026-03-28 12:00 +01:00", "2026-03-29 03:00 +02:00"},
        {"30 2 * * *", "Europe/Berlin", "2026-03-29 03:00 +02:00", "2026-03-30 02:30 +02:00"},
        {"30 2 * * *", "Europe/Berlin", "2026-03-29 01:59 +01:00", "2026-03-29 03:00 +02:00"},
    });
    check_sequence("*/30 * * * *", "Europe/Berlin", "2026-03-29 01:00 +01:00",
                   {"2026-03-29 01:30 +01:00", "2026-03-29 03:00 +02:00", "2026-03-29 03:30 +02:00"});
}

TEST_CASE("in Berlin in autumn, a fixed time fires once and every 30 minutes covers both passes") {
    check_ticks({
        {"30 2 * * *", "Europe/Berlin", "2026-10-24 12:00 +02:00", "2026-10-25 02:30 +02:00"},
        {"30 2 * * *", "Europe/Berlin", "2026-10-25 02:30 +02:00", "2026-10-26 02:30 +01:00"},
        {"30 2 * * *", "Europe/Berlin", "2026-10-25 02:15 +01:00", "2026-10-26 02:30 +01:00"},
    });
    check_sequence("*/30 * * * *", "Europe/Berlin", "2026-10-25 01:30 +02:00",
                   {"2026-10-25 02:00 +02:00", "2026-10-25 02:30 +02:00", "2026-10-25 02:00 +01:00",
                    "2026-10-25 02:30 +01:00", "2026-10-25 03:00 +01:00"});
}

TEST_CASE("in Nuuk, where autumn turns midnight back to 23:00, the repeated hour belongs to the day before") {
    // 2040-10-28 00:00 -01:00 becomes 2040-10-27 23:00 -02:00 (a change from the zone's rule).
    check_sequence(
        "*/30 * * * *", "America/Nuuk", "2040-10-27 23:00 -01:00",
        {"2040-10-27 23:30 -01:00", "2040-10-27 23:00 -02:00", "2040-10-27 23:30 -02:00", "2040-10-28 00:00 -02:00"});
    check_ticks({
        {"30 23 * * *", "America/Nuuk", "2040-10-27 23:30 -01:00", "2040-10-28 23:30 -02:00"},
        {"30 23 * * *", "America/Nuuk", "2040-10-27 23:10 -02:00", "2040-10-28 23:30 -02:00"},
    });
}

TEST_CASE("Kolkata's half-hour offset puts local midnight at 18:30 UTC") {
    check_ticks({
        {"0 9 * * *", "Asia/Kolkata", "2026-06-01 00:00 +05:30", "2026-06-01 09:00 +05:30"},
        {"0 0 * * *", "Asia/Kolkata", "2026-06-01 12:00 +00:00", "2026-06-01 18:30 +00:00"},
        {"*/45 * * * *", "Asia/Kolkata", "2026-06-01 09:00 +05:30", "2026-06-01 09:45 +05:30"},
        // Monday in Kolkata begins on Sunday in UTC.
        {"0 0 * * MON", "Asia/Kolkata", "2026-05-31 12:00 +00:00", "2026-06-01 00:00 +05:30"},
    });
}

TEST_CASE("years past the transitions a zone file lists follow the zone's rule") {
    check_ticks({
        {"30 2 * * *", "Europe/Berlin", "2040-03-24 12:00 +01:00", "2040-03-25 03:00 +02:00"},
        {"30 2 * * *", "Europe/Berlin", "2040-10-28 02:30 +02:00", "2040-10-29 02:30 +01:00"},
        {"30 2 * * *", "America/New_York", "2050-03-12 12:00 -05:00", "2050-03-13 03:00 -04:00"},
    });
}

TEST_CASE("a malformed cron expression is refused with the field and the reason") {
    struct Refused {
        const char* text;
        const char* error;
    };
    const Refused table[] = {
        {"*/0 * * * *", "cron \"*/0 * * * *\": minute field: step 0 is not allowed"},
        {"60 * * * *", "cron \"60 * * * *\": minute field: 60 is out of range 0-59"},
        {"* 24 * * *", "cron \"* 24 * * *\": hour field: 24 is out of range 0-23"},
        {"* * 0 * *", "cron \"* * 0 * *\": day-of-month field: 0 is out of range 1-31"},
        {"* * * 13 *", "cron \"* * * 13 *\": month field: 13 is out of range 1-12"},
        {"* * * * 8", "cron \"* * * * 8\": day-of-week field: 8 is out of range 0-7"},
        {"* * * FOO *", "cron \"* * * FOO *\": month field: \"FOO\" is not a month (1-12 or JAN-DEC)"},
        {"* * * * MONDAY", "cron \"* * * * MONDAY\": day-of-week field: \"MONDAY\" is not a day (0-7 or SUN-SAT)"},
        {"JAN * * * *", "cron \"JAN * * * *\": minute field: \"JAN\" is not a number"},
        {"1.5 * * * *", "cron \"1.5 * * * *\": minute field: \"1.5\" is not a number"},
        {"5-1 * * * *",
         "cron \"5-1 * * * *\": minute field: range 5-1 goes backwards (ranges do not wrap around; write the "
         "low end first)"},
        {"-5 * * * *", "cron \"-5 * * * *\": minute field: range \"-5\" is missing a bound"},
        {"1,,2 * * * *", "cron \"1,,2 * * * *\": minute field: a list has an empty item"},
        {"*/x * * * *", "cron \"*/x * * * *\": minute field: step \"x\" is not a whole number"},
        {"*/60 * * * *", "cron \"*/60 * * * *\": minute field: step 60 is larger than the field's largest value 59"},
        {"* * * *", "cron \"* * * *\": expected 5 fields (minute hour day-of-month month day-of-week), found 4"},
        {"* * * * * *",
         "cron \"* * * * * *\": expected 5 fields (minute hour day-of-month month day-of-week), found 6"},
        {"", "cron \"\": expected 5 fields (minute hour day-of-month month day-of-week), found 0"},
    };
    for (const auto& row : table) {
        auto parsed = parse_cron(row.text);
        REQUIRE_FALSE(parsed.ok());
        CHECK(parsed.error() == row.error);
        CHECK(parsed.error_code() == zq::ErrorCode::bad_input);
    }
}

TEST_CASE("intervals are whole numbers with units, largest first, and come out in milliseconds") {
    struct Accepted {
        const char* text;
        std::int64_t interval_ms;
    };
    const Accepted table[] = {
        {"500ms", 500},         {"30s", 30'000},      {"5m", 300'000},          {"90m", 5'400'000},
        {"1h", 3'600'000},      {"1h30m", 5'400'000}, {"2d", 172'800'000},      {"1d12h", 129'600'000},
        {"1m30s500ms", 90'500}, {" 5m ", 300'000},    {"366d", 31'622'400'000},
    };
    for (const auto& row : table) {
        INFO(row.text);
        auto every = parse_every(row.text);
        REQUIRE(every.ok());
        CHECK(every->interval_ms == row.interval_ms);
    }
}

TEST_CASE("an interval that is zero, too long or not a duration is refused with the reason") {
    struct Refused {
        const char* text;
        const char* error;
    };
    const Refused table[] = {
        {"0s", "every \"0s\": the interval must be longer than zero"},
        {"0h0m", "every \"0h0m\": the interval must be longer than zero"},
        {"", "every \"\": expected a duration such as 30s, 5m, 1h30m, 500ms or 2d"},
        {"abc", "every \"abc\": expected a whole number at \"abc\""},
        {"-5m", "every \"-5m\": expected a whole number at \"-5m\""},
        {"5", "every \"5\": expected a unit (d, h, m, s or ms) after 5"},
        {"5 m", "every \"5 m\": expected a unit (d, h, m, s or ms) after 5"},
        {"5x", "every \"5x\": unknown unit \"x\" (use d, h, m, s or ms)"},
        {"1.5h", "every \"1.5h\": fractions are not supported (write 1h30m rather than 1.5h)"},
        {"30m1h", "every \"30m1h\": units must go from the largest to the smallest, each once (as in 1h30m)"},
        {"1h1h", "every \"1h1h\": units must go from the largest to the smallest, each once (as in 1h30m)"},
        {"367d", "every \"367d\": longer than the limit of 366 days"},
        {"366d1ms", "every \"366d1ms\": longer than the limit of 366 days"},
        {"99999999999999999999999d", "every \"99999999999999999999999d\": longer than the limit of 366 days"},
    };
    for (const auto& row : table) {
        auto every = parse_every(row.text);
        REQUIRE_FALSE(every.ok());
        CHECK(every.error() == row.error);
    }
}
