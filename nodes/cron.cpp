#include "cron.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <chrono>
#include <span>
#include <vector>

namespace zq::node {

// ---- Parsing cron expressions ----

namespace {

constexpr std::array<std::string_view, 12> kMonthNames{"jan", "feb", "mar", "apr", "may", "jun",
                                                       "jul", "aug", "sep", "oct", "nov", "dec"};
constexpr std::array<std::string_view, 7> kDayNames{"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

// What one of the five fields accepts.
struct FieldSpec {
    const char* name;
    int lowest;
    int highest;
    // The top of `*`: the field's end, except day-of-week, whose 7 only repeats Sunday.
    int star_highest;
    // Names for the values from `first_named` on (months from 1, days from 0), if any.
    std::span<const std::string_view> names = {};
    int first_named = 0;
    const char* expected = "a number";
};

constexpr FieldSpec kMinuteField{.name = "minute", .lowest = 0, .highest = 59, .star_highest = 59};
constexpr FieldSpec kHourField{.name = "hour", .lowest = 0, .highest = 23, .star_highest = 23};
constexpr FieldSpec kDayOfMonthField{.name = "day-of-month", .lowest = 1, .highest = 31, .star_highest = 31};
constexpr FieldSpec kMonthField{.name = "month",
                                .lowest = 1,
                                .highest = 12,
                                .star_highest = 12,
                                .names = kMonthNames,
                                .first_named = 1,
                                .expected = "a month (1-12 or JAN-DEC)"};
constexpr FieldSpec kDayOfWeekField{.name = "day-of-week",
                                    .lowest = 0,
                                    .highest = 7,
                                    .star_highest = 6,
                                    .names = kDayNames,
                                    .first_named = 0,
                                    .expected = "a day (0-7 or SUN-SAT)"};

// A field's allowed values as bits (bit v: value v allowed), and how it was written.
struct ParsedField {
    std::bitset<64> values;
    bool bare_star = false;  // exactly "*"
    bool periodic = false;   // uses `*` or a step anywhere
};

bool equal_ignoring_case(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}

std::string quoted(std::string_view text) { return "\"" + std::string(text) + "\""; }

Result<int> parse_value(std::string_view text, const FieldSpec& spec) {
    for (std::size_t i = 0; i < spec.names.size(); ++i) {
        if (equal_ignoring_case(text, spec.names[i])) return spec.first_named + int(i);
    }
    // Digits only: from_chars alone would take a sign ("-5") or stop at a fraction ("1.5").
    const bool digits_only = !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
        return std::isdigit(static_cast<unsigned char>(c));
    });
    if (!digits_only) return Error{quoted(text) + " is not " + spec.expected};
    int value = 0;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc{} || value < spec.lowest || value > spec.highest) {
        return Error{std::string(text) + " is out of range " + std::to_string(spec.lowest) + "-" +
                     std::to_string(spec.highest)};
    }
    return value;
}

Result<int> parse_step(std::string_view text, const FieldSpec& spec) {
    int step = 0;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), step);
    if (text.empty() || error != std::errc{} || end != text.data() + text.size() || step < 0) {
        return Error{"step " + quoted(text) + " is not a whole number"};
    }
    if (step == 0) return Error{"step 0 is not allowed"};
    // A step beyond the field's largest value selects only the range's start, which is better
    // written as that value; such a step is more likely a slip ("*/90" for every 90 minutes,
    // which cron cannot express) than meant.
    if (step > spec.highest) {
        return Error{"step " + std::string(text) + " is larger than the field's largest value " +
                     std::to_string(spec.highest)};
    }
    return step;
}

// The range an item's part before any '/' covers: `*`, `a-b`, or `a` (to the field's end
// when a step follows, as in "5/15").
Result<std::pair<int, int>> parse_range(std::string_view text, const FieldSpec& spec, bool stepped) {
    if (text == "*") return std::pair{spec.lowest, spec.star_highest};
    const auto dash = text.find('-');
    if (dash == std::string_view::npos) {
        auto value = parse_value(text, spec);
        if (!value) return value.failure();
        return std::pair{*value, stepped ? spec.star_highest : *value};
    }
    if (dash == 0 || dash + 1 == text.size()) return Error{"range " + quoted(text) + " is missing a bound"};
    auto low = parse_value(text.substr(0, dash), spec);
    if (!low) return low.failure();
    auto high = parse_value(text.substr(dash + 1), spec);
    if (!high) return high.failure();
    if (*low > *high) {
        return Error{"range " + std::string(text) +
                     " goes backwards (ranges do not wrap around; write the low end first)"};
    }
    return std::pair{*low, *high};
}

Status parse_item(std::string_view item, const FieldSpec& spec, ParsedField& field) {
    if (item.empty()) return Error{"a list has an empty item"};
    const auto slash = item.find('/');
    const bool stepped = slash != std::string_view::npos;
    int step = 1;
    if (stepped) {
        auto parsed = parse_step(item.substr(slash + 1), spec);
        if (!parsed) return parsed.failure();
        step = *parsed;
    }
    const auto base = item.substr(0, slash);
    auto range = parse_range(base, spec, stepped);
    if (!range) return range.failure();
    for (int value = range->first; value <= range->second; value += step) field.values.set(std::size_t(value));
    if (base == "*" || stepped) field.periodic = true;
    return success();
}

Result<ParsedField> parse_field(std::string_view text, const FieldSpec& spec) {
    ParsedField field;
    field.bare_star = text == "*";
    std::size_t start = 0;
    while (true) {
        const auto comma = text.find(',', start);
        auto parsed = parse_item(text.substr(start, comma - start), spec, field);
        if (!parsed) return parsed.failure();
        if (comma == std::string_view::npos) break;
        start = comma + 1;
    }
    return field;
}

std::vector<std::string_view> split_on_spaces(std::string_view text) {
    std::vector<std::string_view> words;
    std::size_t i = 0;
    while (i < text.size()) {
        while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
        const std::size_t start = i;
        while (i < text.size() && !std::isspace(static_cast<unsigned char>(text[i]))) ++i;
        if (i > start) words.push_back(text.substr(start, i - start));
    }
    return words;
}

template <std::size_t N>
std::bitset<N> narrow(const std::bitset<64>& bits) {
    std::bitset<N> narrowed;
    for (std::size_t i = 0; i < N; ++i) narrowed[i] = bits[i];
    return narrowed;
}

}  // namespace

Result<CronExpression> parse_cron(std::string_view text) {
    const std::string where = "cron " + quoted(text) + ": ";
    const auto words = split_on_spaces(text);
    if (words.size() != 5) {
        return Error{where + "expected 5 fields (minute hour day-of-month month day-of-week), found " +
                         std::to_string(words.size()),
                     ErrorCode::bad_input};
    }
    const std::array<const FieldSpec*, 5> specs{&kMinuteField, &kHourField, &kDayOfMonthField, &kMonthField,
                                                &kDayOfWeekField};
    std::array<ParsedField, 5> fields;
    for (std::size_t i = 0; i < specs.size(); ++i) {
        auto field = parse_field(words[i], *specs[i]);
        if (!field) return Error{where + specs[i]->name + " field: " + field.error(), ErrorCode::bad_input};
        fields[i] = *field;
    }
    // Day-of-week 7 is Sunday, like 0.
    if (fields[4].values[7]) fields[4].values.set(0);

    CronExpression cron;
    cron.text = std::string(text);
    cron.minutes = narrow<60>(fields[0].values);
    cron.hours = narrow<24>(fields[1].values);
    cron.days_of_month = narrow<32>(fields[2].values);
    cron.months = narrow<13>(fields[3].values);
    cron.days_of_week = narrow<7>(fields[4].values);
    cron.day_of_month_restricted = !fields[2].bare_star;
    cron.day_of_week_restricted = !fields[4].bare_star;
    cron.fixed_time = !fields[0].periodic && !fields[1].periodic;
    return cron;
}

// ---- Finding the next tick ----

namespace {

using std::chrono::days;
using std::chrono::sys_days;

constexpr std::int64_t kSecondsPerMinute = 60;
constexpr std::int64_t kSecondsPerHour = 3600;
constexpr std::int64_t kSecondsPerDay = 86400;
// One cycle of the Gregorian calendar (400 years, 146,097 days, a whole number of weeks):
// after it dates fall on the same weekdays again, so a day rule that matched no day within it
// never will.
constexpr std::int64_t kSearchHorizon = 146097 * kSecondsPerDay;
// Ticks are searched within the years 1 to 9999, where the calendar arithmetic is exact.
constexpr std::int64_t kFirstInstant = -62135596800;  // 0001-01-01T00:00:00Z
constexpr std::int64_t kLastInstant = 253402300799;   // 9999-12-31T23:59:59Z
// A fall-back change repeats at most 2 × kLargestUtcOffset of wall time. Starting the search
// that long before `after` means a change shortly before it is seen, so the wall times it
// repeats do not fire again for fixed-time entries.
constexpr std::int64_t kLookBack = 2 * std::int64_t(kLargestUtcOffset);

std::int64_t floor_div(std::int64_t a, std::int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

template <std::size_t N>
std::optional<int> first_set_from(const std::bitset<N>& bits, int from) {
    for (int i = std::max(from, 0); i < int(N); ++i) {
        if (bits[std::size_t(i)]) return i;
    }
    return std::nullopt;
}

bool day_matches(const CronExpression& cron, std::chrono::year_month_day date, std::chrono::weekday weekday) {
    const bool by_month_day = cron.days_of_month[unsigned(date.day())];
    const bool by_weekday = cron.days_of_week[weekday.c_encoding()];
    // Vixie cron's rule: with both fields restricted, either one selects the day.
    if (cron.day_of_month_restricted && cron.day_of_week_restricted) return by_month_day || by_weekday;
    return by_month_day && by_weekday;
}

// Midnight (in wall seconds) of the first day of the next month the expression allows, at or
// after the month after `date`'s.
std::int64_t start_of_next_allowed_month(const CronExpression& cron, std::chrono::year_month_day date) {
    using namespace std::chrono;
    auto year = date.year();
    auto next = first_set_from(cron.months, int(unsigned(date.month())) + 1);
    if (!next) {
        year += years{1};
        next = first_set_from(cron.months, 1);
    }
    // parse_cron sets at least one month, so the search above always finds one.
    const sys_days first_day{year / month{unsigned(next.value_or(1))} / 1};
    return first_day.time_since_epoch().count() * kSecondsPerDay;
}

// The first whole minute of wall time in [from, until) that the expression matches, counting
// wall time as a plain calendar without time zones.
std::optional<std::int64_t> first_wall_match(const CronExpression& cron, std::int64_t from, std::int64_t until) {
    std::int64_t wall = floor_div(from + kSecondsPerMinute - 1, kSecondsPerMinute) * kSecondsPerMinute;
    while (wall < until) {
        const std::int64_t day = floor_div(wall, kSecondsPerDay);
        const sys_days calendar_day{days{day}};
        const std::chrono::year_month_day date{calendar_day};
        const std::int64_t midnight = day * kSecondsPerDay;
        if (!cron.months[unsigned(date.month())]) {
            wall = start_of_next_allowed_month(cron, date);
            continue;
        }
        if (!day_matches(cron, date, std::chrono::weekday{calendar_day})) {
            wall = midnight + kSecondsPerDay;
            continue;
        }
        const int hour_now = int((wall - midnight) / kSecondsPerHour);
        const auto hour = first_set_from(cron.hours, hour_now);
        if (!hour) {
            wall = midnight + kSecondsPerDay;
            continue;
        }
        const int minute_now = *hour == hour_now ? int((wall - midnight) % kSecondsPerHour / kSecondsPerMinute) : 0;
        const auto minute = first_set_from(cron.minutes, minute_now);
        if (!minute) {
            wall = midnight + (*hour + 1) * kSecondsPerHour;
            continue;
        }
        const std::int64_t match = midnight + *hour * kSecondsPerHour + *minute * kSecondsPerMinute;
        if (match >= until) return std::nullopt;
        return match;
    }
    return std::nullopt;
}

// Whether any calendar day satisfies the day fields. Only day-of-month numbers that no allowed
// month has (February 30, April 31) can make it fail, since every month has every weekday;
// checking that up front spares a fruitless search through 400 years.
bool some_day_matches(const CronExpression& cron) {
    if (!cron.day_of_month_restricted || cron.day_of_week_restricted) return true;
    constexpr std::array<int, 13> kLongestMonth{0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    for (std::size_t month = 1; month <= 12; ++month) {
        if (!cron.months[month]) continue;
        for (int day = 1; day <= kLongestMonth[month]; ++day) {
            if (cron.days_of_month[std::size_t(day)]) return true;
        }
    }
    return false;
}

// A span of real time [begins, ends) with one UTC offset. `offset_before` is the offset just
// before it when the span begins with a change, and none when the search simply started there.
struct OffsetSpan {
    std::int64_t begins;
    std::int64_t ends;
    std::int32_t offset;
    std::optional<std::int32_t> offset_before;
};

// The first tick within `span` at or after `earliest` (unix seconds), by the rules in the header.
std::optional<std::int64_t> first_tick_in_span(const CronExpression& cron, const OffsetSpan& span,
                                               std::int64_t earliest) {
    const bool after_change = span.offset_before.has_value();
    const std::int32_t before = span.offset_before.value_or(span.offset);
    // Spring forward: the wall times in [begins + before, begins + offset) never happen; a
    // fixed-time entry due in them fires once, as the gap ends.
    if (cron.fixed_time && after_change && span.begins >= earliest && span.offset > before &&
        first_wall_match(cron, span.begins + before, span.begins + span.offset)) {
        return span.begins;
    }
    std::int64_t wall_from = std::max(span.begins, earliest) + span.offset;
    // Fall back: the wall times in [begins + offset, begins + before) happened already, before
    // the change; a fixed-time entry does not fire for them again.
    if (cron.fixed_time && after_change && span.offset < before) {
        wall_from = std::max(wall_from, span.begins + before);
    }
    auto wall = first_wall_match(cron, wall_from, span.ends + span.offset);
    if (!wall) return std::nullopt;
    return *wall - span.offset;
}

}  // namespace

std::optional<std::int64_t> next_cron_tick(const CronExpression& cron, std::int64_t after_unix_ms,
                                           const TimeZone& zone) {
    // A tick is a whole second, so the first one that counts is the second after `after`.
    const std::int64_t earliest = std::max(floor_div(after_unix_ms, 1000) + 1, kFirstInstant + kLookBack);
    if (earliest > kLastInstant || !some_day_matches(cron)) return std::nullopt;
    const std::int64_t horizon = std::min(earliest + kSearchHorizon, kLastInstant);

    OffsetSpan span{earliest - kLookBack, 0, zone.utc_offset_at(earliest - kLookBack), std::nullopt};
    while (span.begins < horizon) {
        const auto change = zone.next_offset_change_after(span.begins);
        span.ends = change ? std::min(*change, horizon) : horizon;
        if (auto tick = first_tick_in_span(cron, span, earliest)) return *tick * 1000;
        if (!change || *change >= horizon) break;
        span = OffsetSpan{*change, 0, zone.utc_offset_at(*change), span.offset};
    }
    return std::nullopt;
}

// ---- Intervals ----

namespace {

struct DurationUnit {
    std::string_view name;
    std::int64_t milliseconds;
};

// Largest first: the order the parts of a duration must come in.
constexpr std::array<DurationUnit, 5> kDurationUnits{{
    {"d", std::int64_t{24} * 3600 * 1000},
    {"h", std::int64_t{3600} * 1000},
    {"m", std::int64_t{60} * 1000},
    {"s", 1000},
    {"ms", 1},
}};

std::optional<std::size_t> unit_index(std::string_view name) {
    for (std::size_t i = 0; i < kDurationUnits.size(); ++i) {
        if (kDurationUnits[i].name == name) return i;
    }
    return std::nullopt;
}

std::string_view trim(std::string_view text) {
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
    return text;
}

}  // namespace

Result<Every> parse_every(std::string_view text) {
    const std::string where = "every " + quoted(text) + ": ";
    auto refuse = [&](const std::string& why) { return Error{where + why, ErrorCode::bad_input}; };
    std::string_view rest = trim(text);
    if (rest.empty()) return refuse("expected a duration such as 30s, 5m, 1h30m, 500ms or 2d");

    std::int64_t total = 0;
    std::size_t smallest_unit_so_far = 0;
    bool first = true;
    while (!rest.empty()) {
        std::uint64_t count = 0;
        auto [end, error] = std::from_chars(rest.data(), rest.data() + rest.size(), count);
        if (end == rest.data()) return refuse("expected a whole number at " + quoted(rest));
        const std::string_view number = rest.substr(0, std::size_t(end - rest.data()));
        rest.remove_prefix(number.size());
        if (!rest.empty() && (rest.front() == '.' || rest.front() == ',')) {
            return refuse("fractions are not supported (write 1h30m rather than 1.5h)");
        }
        std::size_t letters = 0;
        while (letters < rest.size() && std::isalpha(static_cast<unsigned char>(rest[letters]))) ++letters;
        const std::string_view unit_name = rest.substr(0, letters);
        rest.remove_prefix(letters);
        if (unit_name.empty()) return refuse("expected a unit (d, h, m, s or ms) after " + std::string(number));
        const auto unit = unit_index(unit_name);
        if (!unit) return refuse("unknown unit " + quoted(unit_name) + " (use d, h, m, s or ms)");
        if (!first && *unit <= smallest_unit_so_far) {
            return refuse("units must go from the largest to the smallest, each once (as in 1h30m)");
        }
        const std::int64_t unit_ms = kDurationUnits[*unit].milliseconds;
        // Checked before multiplying, so no count can overflow.
        if (error == std::errc::result_out_of_range || count > std::uint64_t((kLongestEveryMs - total) / unit_ms)) {
            return refuse("longer than the limit of 366 days");
        }
        total += std::int64_t(count) * unit_ms;
        smallest_unit_so_far = *unit;
        first = false;
    }
    if (total == 0) return refuse("the interval must be longer than zero");
    return Every{total};
}

}  // namespace zq::node
