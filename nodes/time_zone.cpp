#include "time_zone.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>

namespace zq::node {

namespace {

using std::chrono::days;
using std::chrono::sys_days;

constexpr std::int64_t kSecondsPerDay = 86400;
// Rules are evaluated for the years 1 to 9999; instants outside are clamped, which keeps the
// calendar arithmetic far from overflow for any 64-bit input.
constexpr std::int64_t kFirstRuleInstant = -62135596800;  // 0001-01-01T00:00:00Z
constexpr std::int64_t kLastRuleInstant = 253402300799;   // 9999-12-31T23:59:59Z
// Compiled zones are a few kilobytes; a huge file is not one.
constexpr std::uintmax_t kLargestZoneFile = 1 << 20;

int year_of(std::int64_t unix_s) {
    unix_s = std::clamp(unix_s, kFirstRuleInstant, kLastRuleInstant);
    auto day = sys_days{days{unix_s >= 0 ? unix_s / kSecondsPerDay : (unix_s + 1) / kSecondsPerDay - 1}};
    return int(std::chrono::year_month_day{day}.year());
}

std::int64_t days_since_epoch(sys_days day) { return day.time_since_epoch().count(); }

// The day of `year` on which `date` falls, as days since 1970-01-01.
std::int64_t rule_day(const TzRuleDate& date, int year) {
    using namespace std::chrono;
    const auto y = std::chrono::year{year};
    const std::int64_t january_first = days_since_epoch(sys_days{y / January / 1});
    switch (date.form) {
        case TzRuleDate::Form::julian_without_leap_day:
            // "J60" is March 1 in every year: February 29 is skipped in the count.
            return january_first + date.day - 1 + (y.is_leap() && date.day >= 60 ? 1 : 0);
        case TzRuleDate::Form::day_of_year: return january_first + date.day;
        case TzRuleDate::Form::month_week_weekday: break;
    }
    const auto in_month = std::chrono::month{unsigned(date.month)};
    const auto day_of_week = std::chrono::weekday{unsigned(date.weekday)};
    if (date.week == 5) return days_since_epoch(sys_days{y / in_month / day_of_week[last]});
    return days_since_epoch(sys_days{y / in_month / day_of_week[unsigned(date.week)]});
}

// The rule's changes in the years `first` to `last`, in time order. Where two fall on one
// instant (a rule with daylight time all year ends it and begins it again at once), the later
// one in the list wins, and changes to the offset already in effect are dropped.
std::vector<TzTransition> rule_transitions(const TzRule& rule, int first, int last) {
    std::vector<TzTransition> changes;
    if (!rule.daylight_offset) return changes;
    for (int year = first; year <= last; ++year) {
        // Each change happens at a local time given in the offset in effect before it.
        changes.push_back({rule_day(rule.daylight_begins, year) * kSecondsPerDay + rule.daylight_begins.time_of_day -
                               rule.standard_offset,
                           *rule.daylight_offset});
        changes.push_back({rule_day(rule.daylight_ends, year) * kSecondsPerDay + rule.daylight_ends.time_of_day -
                               *rule.daylight_offset,
                           rule.standard_offset});
    }
    std::stable_sort(changes.begin(), changes.end(), [](const auto& a, const auto& b) { return a.at < b.at; });
    std::vector<TzTransition> effective;
    for (const auto& change : changes) {
        if (!effective.empty() && effective.back().at == change.at) effective.pop_back();
        if (!effective.empty() && effective.back().offset_after == change.offset_after) continue;
        effective.push_back(change);
    }
    return effective;
}

}  // namespace

TimeZone::TimeZone(std::string name, std::int32_t initial_offset, std::vector<TzTransition> transitions,
                   std::optional<TzRule> rule)
    : name_(std::move(name)), initial_offset_(initial_offset), transitions_(std::move(transitions)), rule_(rule) {}

bool TimeZone::rule_governs(std::int64_t unix_s) const {
    return rule_ && (transitions_.empty() || unix_s >= transitions_.back().at);
}

std::int32_t TimeZone::utc_offset_at(std::int64_t unix_s) const {
    if (rule_governs(unix_s)) return rule_offset_at(unix_s);
    auto after = std::upper_bound(transitions_.begin(), transitions_.end(), unix_s,
                                  [](std::int64_t at, const TzTransition& t) { return at < t.at; });
    if (after == transitions_.begin()) return initial_offset_;
    return std::prev(after)->offset_after;
}

std::optional<std::int64_t> TimeZone::next_offset_change_after(std::int64_t unix_s) const {
    const std::int32_t current = utc_offset_at(unix_s);
    auto next = std::upper_bound(transitions_.begin(), transitions_.end(), unix_s,
                                 [](std::int64_t at, const TzTransition& t) { return at < t.at; });
    for (; next != transitions_.end(); ++next) {
        if (next->offset_after != current) return next->at;
    }
    if (!rule_) return std::nullopt;
    return next_rule_change_after(transitions_.empty() ? unix_s : std::max(unix_s, transitions_.back().at));
}

std::int32_t TimeZone::rule_offset_at(std::int64_t unix_s) const {
    const int year = year_of(unix_s);
    std::int32_t offset = rule_->standard_offset;
    // The previous year's changes decide the offset early in January (southern zones, and
    // the hours between midnight UTC and a change given in local time).
    for (const auto& change : rule_transitions(*rule_, year - 1, year + 1)) {
        if (change.at > unix_s) break;
        offset = change.offset_after;
    }
    return offset;
}

std::optional<std::int64_t> TimeZone::next_rule_change_after(std::int64_t unix_s) const {
    if (unix_s >= kLastRuleInstant) return std::nullopt;
    const std::int32_t current = rule_offset_at(unix_s);
    const int year = year_of(unix_s);
    for (const auto& change : rule_transitions(*rule_, year - 1, year + 2)) {
        if (change.at > unix_s && change.offset_after != current) return change.at;
    }
    return std::nullopt;
}

// ---- POSIX TZ strings ----

namespace {

// Reads a POSIX TZ string from the front; each step returns false at the first thing it does
// not expect, and `what` says what that was.
class PosixTzReader {
public:
    explicit PosixTzReader(std::string_view text) : rest_(text) {}

    bool at_end() const { return rest_.empty(); }
    bool next_is(char c) const { return !rest_.empty() && rest_.front() == c; }
    bool skip(char c) {
        if (!next_is(c)) return false;
        rest_.remove_prefix(1);
        return true;
    }

    // A zone abbreviation: three or more letters, or anything in angle brackets ("<+0530>").
    bool name() {
        if (skip('<')) {
            auto close = rest_.find('>');
            if (close == std::string_view::npos || close < 3) return fail("an abbreviation in <...>");
            rest_.remove_prefix(close + 1);
            return true;
        }
        std::size_t letters = 0;
        while (letters < rest_.size() && std::isalpha(static_cast<unsigned char>(rest_[letters]))) ++letters;
        if (letters < 3) return fail("an abbreviation of three or more letters");
        rest_.remove_prefix(letters);
        return true;
    }

    // [+-]h[h][:mm[:ss]], in seconds; `largest_hours` is 24 for offsets, 167 for rule times.
    bool signed_time(int largest_hours, std::int32_t& seconds) {
        const bool negative = skip('-');
        if (!negative) skip('+');
        int hours = 0, minutes = 0, secs = 0;
        if (!number(0, largest_hours, hours)) return fail("hours");
        if (skip(':') && !number(0, 59, minutes)) return fail("minutes");
        if (skip(':') && !number(0, 59, secs)) return fail("seconds");
        seconds = (hours * 3600 + minutes * 60 + secs) * (negative ? -1 : 1);
        return true;
    }

    bool rule_date(TzRuleDate& date) {
        if (skip('J')) {
            date.form = TzRuleDate::Form::julian_without_leap_day;
            if (!number(1, 365, date.day)) return fail("a day 1-365 after J");
        } else if (skip('M')) {
            date.form = TzRuleDate::Form::month_week_weekday;
            if (!number(1, 12, date.month) || !skip('.') || !number(1, 5, date.week) || !skip('.') ||
                !number(0, 6, date.weekday)) {
                return fail("Mmonth.week.weekday");
            }
        } else {
            date.form = TzRuleDate::Form::day_of_year;
            if (!number(0, 365, date.day)) return fail("a rule date (Jn, n or Mm.w.d)");
        }
        if (skip('/') && !signed_time(167, date.time_of_day)) return false;
        return true;
    }

    const std::string& what() const { return what_; }

private:
    bool number(int smallest, int largest, int& value) {
        auto [end, error] = std::from_chars(rest_.data(), rest_.data() + rest_.size(), value);
        if (error != std::errc{} || value < smallest || value > largest) return false;
        rest_.remove_prefix(std::size_t(end - rest_.data()));
        return true;
    }
    bool fail(const char* expected) {
        if (what_.empty()) what_ = std::string("expected ") + expected + " at \"" + std::string(rest_) + "\"";
        return false;
    }

    std::string_view rest_;
    std::string what_;
};

}  // namespace

Result<TzRule> parse_posix_tz(std::string_view text) {
    auto refuse = [&](const std::string& why) {
        return Error{"TZ rule \"" + std::string(text) + "\": " + why, ErrorCode::bad_input};
    };
    PosixTzReader reader(text);
    TzRule rule;
    std::int32_t west = 0;
    // POSIX offsets count hours west of Greenwich ("EST5"), the opposite of UTC offsets.
    if (!reader.name() || !reader.signed_time(24, west)) return refuse(reader.what());
    rule.standard_offset = -west;
    if (reader.at_end()) return rule;

    if (!reader.name()) return refuse(reader.what());
    rule.daylight_offset = rule.standard_offset + 3600;
    if (!reader.next_is(',') && !reader.at_end()) {
        if (!reader.signed_time(24, west)) return refuse(reader.what());
        rule.daylight_offset = -west;
    }
    // Without dates, POSIX leaves the rule to the implementation; TZif files always give them.
    if (!reader.skip(',')) return refuse("daylight saving time without the dates it begins and ends");
    if (!reader.rule_date(rule.daylight_begins)) return refuse(reader.what());
    if (!reader.skip(',')) return refuse("expected ',' and the date daylight saving time ends");
    if (!reader.rule_date(rule.daylight_ends)) return refuse(reader.what());
    if (!reader.at_end()) return refuse("unexpected text after the rule");
    return rule;
}

// ---- TZif files ----

namespace {

// Big-endian fields of a TZif file, read with bounds checks.
class TzifReader {
public:
    explicit TzifReader(std::string_view bytes) : bytes_(bytes) {}

    bool has(std::uint64_t count) const { return count <= bytes_.size() - position_; }
    std::size_t position() const { return position_; }
    void skip(std::size_t count) { position_ += count; }
    std::string_view take(std::size_t count) {
        auto taken = bytes_.substr(position_, count);
        position_ += count;
        return taken;
    }
    std::int64_t integer(int width) {
        std::uint64_t value = 0;
        for (int i = 0; i < width; ++i) value = (value << 8) | static_cast<unsigned char>(bytes_[position_ + i]);
        position_ += std::size_t(width);
        // Sign-extend from `width` bytes.
        const int unused_bits = 64 - 8 * width;
        return static_cast<std::int64_t>(value << unused_bits) >> unused_bits;
    }

private:
    std::string_view bytes_;
    std::size_t position_ = 0;
};

struct TzifCounts {
    std::uint64_t utc_indicators, standard_indicators, leap_seconds, transitions, types, abbreviation_bytes;

    std::uint64_t data_size(int time_width) const {
        return transitions * std::uint64_t(time_width) + transitions + types * 6 + abbreviation_bytes +
               leap_seconds * std::uint64_t(time_width + 4) + standard_indicators + utc_indicators;
    }
};

constexpr std::size_t kTzifHeaderSize = 44;

bool read_header(TzifReader& reader, char& version, TzifCounts& counts) {
    if (!reader.has(kTzifHeaderSize) || reader.take(4) != "TZif") return false;
    version = reader.take(1)[0];
    reader.skip(15);
    counts.utc_indicators = std::uint64_t(reader.integer(4));
    counts.standard_indicators = std::uint64_t(reader.integer(4));
    counts.leap_seconds = std::uint64_t(reader.integer(4));
    counts.transitions = std::uint64_t(reader.integer(4));
    counts.types = std::uint64_t(reader.integer(4));
    counts.abbreviation_bytes = std::uint64_t(reader.integer(4));
    return true;
}

}  // namespace

Result<TimeZone> parse_tzif(std::string_view name, std::string_view bytes) {
    auto refuse = [&](const std::string& why) {
        return Error{"time zone \"" + std::string(name) + "\": " + why + " (reinstall the tzdata package?)"};
    };
    TzifReader reader(bytes);
    char version = 0;
    TzifCounts counts{};
    if (!read_header(reader, version, counts)) {
        return Error{"time zone \"" + std::string(name) + "\": not a compiled zone (no TZif header)"};
    }
    // Version 2 and later repeat the data with 64-bit times after the 32-bit block, then end
    // with the POSIX TZ rule for instants after the last transition.
    int time_width = 4;
    if (version != '\0') {
        if (!reader.has(counts.data_size(4))) return refuse("the file is cut short");
        reader.skip(std::size_t(counts.data_size(4)));
        if (!read_header(reader, version, counts)) return refuse("the 64-bit header is missing");
        time_width = 8;
    }
    if (counts.leap_seconds != 0) return refuse("zones with leap seconds (right/...) are not supported");
    if (counts.types == 0) return refuse("the file defines no local time types");
    if (!reader.has(counts.data_size(time_width))) return refuse("the file is cut short");

    std::vector<std::int64_t> times(counts.transitions);
    for (auto& at : times) at = reader.integer(time_width);
    std::vector<std::size_t> type_of(counts.transitions);
    for (auto& type : type_of) type = std::size_t(reader.integer(1));
    std::vector<std::int32_t> offsets(counts.types);
    for (auto& offset : offsets) {
        offset = std::int32_t(reader.integer(4));
        reader.skip(2);  // is-daylight flag and abbreviation index: schedules need neither
        if (offset < -kLargestUtcOffset || offset > kLargestUtcOffset) return refuse("a UTC offset beyond 26 hours");
    }
    reader.skip(std::size_t(counts.abbreviation_bytes + counts.standard_indicators + counts.utc_indicators));

    std::vector<TzTransition> transitions;
    for (std::size_t i = 0; i < times.size(); ++i) {
        if (type_of[i] >= offsets.size()) return refuse("a transition to an undefined local time type");
        if (i > 0 && times[i] <= times[i - 1]) return refuse("transitions out of order");
        transitions.push_back({times[i], offsets[type_of[i]]});
    }

    std::optional<TzRule> rule;
    if (time_width == 8) {
        auto footer = bytes.substr(reader.position());
        if (footer.size() < 2 || footer.front() != '\n') return refuse("the TZ rule footer is missing");
        auto end = footer.find('\n', 1);
        if (end == std::string_view::npos) return refuse("the TZ rule footer is not terminated");
        auto text = footer.substr(1, end - 1);
        if (!text.empty()) {
            auto parsed = parse_posix_tz(text);
            if (!parsed) return refuse(parsed.error());
            rule = *parsed;
        }
    }
    return TimeZone(std::string(name), offsets[0], std::move(transitions), rule);
}

namespace {

// IANA names are letters, digits, '_', '-' and '+' in '/'-separated parts ("Etc/GMT+5",
// "America/Port-au-Prince"); refusing everything else keeps a name from leaving the directory.
bool valid_zone_name(std::string_view name) {
    if (name.empty() || name.front() == '/' || name.back() == '/') return false;
    if (name.find("//") != std::string_view::npos) return false;
    return std::all_of(name.begin(), name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '/' || c == '_' || c == '-' || c == '+';
    });
}

}  // namespace

Result<TimeZone> find_time_zone(std::string_view name, std::string_view zoneinfo_dir) {
    if (name.empty() || name == "UTC") return TimeZone{};
    const std::string quoted = "time zone \"" + std::string(name) + "\": ";
    if (!valid_zone_name(name)) {
        return Error{quoted + "not a zone name (names look like \"Europe/Berlin\" or \"UTC\")", ErrorCode::bad_input};
    }
    const std::filesystem::path path = std::filesystem::path(zoneinfo_dir) / std::string(name);
    std::error_code error;
    if (!std::filesystem::is_regular_file(path, error)) {
        return Error{quoted + "no such zone in " + std::string(zoneinfo_dir) +
                         " (names look like \"Europe/Berlin\"; is the tzdata package installed?)",
                     ErrorCode::bad_input};
    }
    if (std::filesystem::file_size(path, error) > kLargestZoneFile || error) {
        return Error{quoted + path.string() + " is not a compiled zone (too large or unreadable)"};
    }
    std::ifstream file(path, std::ios::binary);
    if (!file.is_open()) return Error{quoted + "cannot open " + path.string()};
    std::ostringstream contents;
    contents << file.rdbuf();
    return parse_tzif(name, contents.str());
}

}  // namespace zq::node
