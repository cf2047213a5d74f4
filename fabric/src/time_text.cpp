#include <zq/time_text.hpp>

#include <array>
#include <cctype>
#include <chrono>
#include <cstdio>

namespace zq {
namespace {

// Reads exactly `count` decimal digits at `at`, advancing it; false when they are not there.
bool read_digits(std::string_view text, std::size_t& at, std::size_t count, int& value) {
    if (at + count > text.size()) return false;
    value = 0;
    for (std::size_t i = 0; i < count; ++i) {
        char c = text[at + i];
        if (c < '0' || c > '9') return false;
        value = value * 10 + (c - '0');
    }
    at += count;
    return true;
}

bool expect(std::string_view text, std::size_t& at, std::string_view allowed) {
    if (at >= text.size() || allowed.find(text[at]) == std::string_view::npos) return false;
    ++at;
    return true;
}

Error bad_time(std::string_view text, std::string_view why) {
    return Error{"time \"" + std::string(text) + "\" is not RFC 3339 (e.g. 2026-11-29T22:40:00Z): " +
                     std::string(why),
                 ErrorCode::bad_input};
}

}  // namespace

std::string format_rfc3339(std::int64_t unix_ms) {
    using namespace std::chrono;
    const sys_time<milliseconds> time{milliseconds(unix_ms)};
    const auto day = floor<days>(time);
    const year_month_day date{day};
    const hh_mm_ss clock{time - day};
    std::array<char, 32> text{};
    std::snprintf(text.data(), text.size(), "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", static_cast<int>(date.year()),
                  static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                  static_cast<int>(clock.hours().count()), static_cast<int>(clock.minutes().count()),
                  static_cast<int>(clock.seconds().count()), static_cast<int>(clock.subseconds().count()));
    return text.data();
}

Result<std::int64_t> parse_rfc3339(std::string_view text) {
    using namespace std::chrono;
    std::size_t at = 0;
    int year, month, day, hour, minute, second;
    if (!read_digits(text, at, 4, year) || !expect(text, at, "-") || !read_digits(text, at, 2, month) ||
        !expect(text, at, "-") || !read_digits(text, at, 2, day)) {
        return bad_time(text, "the date must be YYYY-MM-DD");
    }
    if (!expect(text, at, "Tt ") || !read_digits(text, at, 2, hour) || !expect(text, at, ":") ||
        !read_digits(text, at, 2, minute) || !expect(text, at, ":") || !read_digits(text, at, 2, second)) {
        return bad_time(text, "the time of day must be THH:MM:SS");
    }
    const year_month_day date{std::chrono::year(year), std::chrono::month(static_cast<unsigned>(month)),
                              std::chrono::day(static_cast<unsigned>(day))};
    if (!date.ok()) return bad_time(text, "no such date");
    if (hour > 23 || minute > 59 || second > 60) return bad_time(text, "no such time of day");
    std::int64_t fraction_ms = 0;
    if (at < text.size() && text[at] == '.') {
        ++at;
        std::int64_t scale = 100;
        std::size_t digits = 0;
        for (; at < text.size() && std::isdigit(static_cast<unsigned char>(text[at])); ++at, ++digits) {
            fraction_ms += (text[at] - '0') * scale;
            scale /= 10;
        }
        if (digits == 0) return bad_time(text, "a '.' must be followed by digits");
    }
    std::int64_t offset_minutes = 0;
    if (expect(text, at, "Zz")) {
    } else if (at < text.size() && (text[at] == '+' || text[at] == '-')) {
        const int sign = text[at++] == '-' ? -1 : 1;
        int offset_hours, offset_mins;
        if (!read_digits(text, at, 2, offset_hours) || !expect(text, at, ":") ||
            !read_digits(text, at, 2, offset_mins) || offset_hours > 23 || offset_mins > 59) {
            return bad_time(text, "the offset must be +HH:MM or -HH:MM");
        }
        offset_minutes = sign * (offset_hours * 60 + offset_mins);
    } else {
        return bad_time(text, "it needs an offset: Z for UTC, or +HH:MM");
    }
    if (at != text.size()) return bad_time(text, "unexpected text after the offset");
    const std::int64_t day_ms = sys_days(date).time_since_epoch().count() * 86400000LL;
    // A leap second (:60) is read as the next second, as POSIX time has none.
    const std::int64_t clock_ms = ((hour * 60LL + minute) * 60 + second) * 1000 + fraction_ms;
    return day_ms + clock_ms - offset_minutes * 60000;
}

}  // namespace zq
