// Time zones read from the system's zoneinfo files: offsets and changes at known instants
// (checked against zdump), the POSIX rule that carries a zone past its listed transitions, and
// the errors for unknown names and broken files.
#include "time_zone.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

using zq::node::find_time_zone;
using zq::node::parse_posix_tz;
using zq::node::parse_tzif;
using zq::node::TimeZone;
using zq::node::TzRuleDate;

namespace {

TimeZone zone(std::string_view name) {
    auto found = find_time_zone(name);
    INFO((found.ok() ? std::string() : found.error()));
    REQUIRE(found.ok());
    return *found;
}

std::string file_contents(const std::string& path) {
    std::ifstream file(path, std::ios::binary);
    std::ostringstream contents;
    contents << file.rdbuf();
    return contents.str();
}

constexpr std::int32_t kHour = 3600;

}  // namespace

TEST_CASE("UTC and the empty name are UTC without reading a file") {
    for (auto name : {"", "UTC"}) {
        TimeZone utc = zone(name);
        CHECK(utc.name() == "UTC");
        CHECK(utc.utc_offset_at(1'790'000'000) == 0);
        CHECK_FALSE(utc.next_offset_change_after(0).has_value());
    }
}

TEST_CASE("a zone's offset and its next change follow its daylight-saving transitions") {
    struct Expected {
        const char* zone;
        std::int64_t at;
        std::int32_t offset;
        std::int64_t next_change;
    };
    // From zdump -v -c 2026,2027: the 2026 changes are at these instants.
    const Expected table[] = {
        {"Europe/Berlin", 1'774'745'999, 1 * kHour, 1'774'746'000},      // 2026-03-29 00:59:59Z, CET
        {"Europe/Berlin", 1'774'746'000, 2 * kHour, 1'792'890'000},      // 01:00Z: CEST until 10-25 01:00Z
        {"Europe/Berlin", 1'792'890'000, 1 * kHour, 1'806'195'600},      // CET until 2027-03-28 01:00Z
        {"America/New_York", 1'772'953'199, -5 * kHour, 1'772'953'200},  // 2026-03-08 06:59:59Z, EST
        {"America/New_York", 1'772'953'200, -4 * kHour, 1'793'512'800},  // EDT until 11-01 06:00Z
    };
    for (const auto& expected : table) {
        INFO(expected.zone << " at " << expected.at);
        TimeZone tz = zone(expected.zone);
        CHECK(tz.utc_offset_at(expected.at) == expected.offset);
        CHECK(tz.next_offset_change_after(expected.at) == expected.next_change);
    }
}

TEST_CASE("a zone without daylight saving keeps its half-hour offset and never changes again") {
    TimeZone kolkata = zone("Asia/Kolkata");
    CHECK(kolkata.utc_offset_at(1'790'000'000) == 5 * kHour + 1800);
    CHECK_FALSE(kolkata.next_offset_change_after(1'790'000'000).has_value());
}

TEST_CASE("past the transitions its file lists, a zone follows the rule at the file's end") {
    // The files list transitions up to 2037; 2040 and 2050 come from the POSIX rule.
    TimeZone berlin = zone("Europe/Berlin");
    CHECK(berlin.utc_offset_at(2'216'250'000 - 1) == 1 * kHour);  // 2040-03-25 00:59:59Z
    CHECK(berlin.utc_offset_at(2'216'250'000) == 2 * kHour);
    CHECK(berlin.next_offset_change_after(2'216'250'000 - 1) == 2'216'250'000);
    CHECK(berlin.next_offset_change_after(2'216'250'000) == 2'234'998'800);  // 2040-10-28 01:00Z

    TimeZone new_york = zone("America/New_York");
    CHECK(new_york.next_offset_change_after(2'524'608'000) == 2'530'767'600);  // 2050-03-13 07:00Z
    CHECK(new_york.utc_offset_at(2'530'767'600) == -4 * kHour);

    // Nuuk's rule changes at "-1:00" on the last Sunday of March: 23:00 on the Saturday before.
    TimeZone nuuk = zone("America/Nuuk");
    CHECK(nuuk.next_offset_change_after(2'208'988'800) == 2'216'250'000);  // from 2040-01-01
    CHECK(nuuk.utc_offset_at(2'216'250'000) == -1 * kHour);
}

TEST_CASE("an unknown zone, or a name that tries to leave the zoneinfo directory, is an error naming it") {
    for (auto name :
         {"Mars/Olympus_Mons", "Europe", "../../etc/passwd", "/etc/localtime", "Europe//Berlin", "zone.tab"}) {
        auto found = find_time_zone(name);
        REQUIRE_FALSE(found.ok());
        CHECK(found.error_code() == zq::ErrorCode::bad_input);
        CHECK_THAT(found.error(), Catch::Contains("time zone \"" + std::string(name) + "\""));
    }
    CHECK(find_time_zone("Mars/Olympus_Mons").error() ==
          "time zone \"Mars/Olympus_Mons\": no such zone in /usr/share/zoneinfo (names look like "
          "\"Europe/Berlin\"; is the tzdata package installed?)");
}

TEST_CASE("a broken or truncated zone file is refused with what is wrong") {
    CHECK(parse_tzif("Test/Garbage", "not a zone file at all, but long enough for a header....").error() ==
          "time zone \"Test/Garbage\": not a compiled zone (no TZif header)");
    const std::string berlin = file_contents("/usr/share/zoneinfo/Europe/Berlin");
    REQUIRE(berlin.size() > 100);
    CHECK_THAT(parse_tzif("Europe/Berlin", std::string_view(berlin).substr(0, 100)).error(),
               Catch::Contains("cut short"));
    CHECK(parse_tzif("Europe/Berlin", berlin).ok());
    CHECK_THAT(find_time_zone("right/Europe/Berlin").error(), Catch::Contains("leap seconds"));
}

TEST_CASE("POSIX TZ rules give offsets east of UTC and the days daylight saving begins and ends") {
    auto india = parse_posix_tz("IST-5:30");
    REQUIRE(india.ok());
    CHECK(india->standard_offset == 5 * kHour + 1800);
    CHECK_FALSE(india->daylight_offset.has_value());

    auto nepal = parse_posix_tz("<+0545>-5:45");
    REQUIRE(nepal.ok());
    CHECK(nepal->standard_offset == 5 * kHour + 45 * 60);

    auto eastern = parse_posix_tz("EST5EDT,M3.2.0,M11.1.0");
    REQUIRE(eastern.ok());
    CHECK(eastern->standard_offset == -5 * kHour);
    CHECK(eastern->daylight_offset == -4 * kHour);
    CHECK(eastern->daylight_begins.form == TzRuleDate::Form::month_week_weekday);
    CHECK(eastern->daylight_begins.month == 3);
    CHECK(eastern->daylight_begins.week == 2);
    CHECK(eastern->daylight_ends.time_of_day == 2 * kHour);

    auto central_europe = parse_posix_tz("CET-1CEST,M3.5.0,M10.5.0/3");
    REQUIRE(central_europe.ok());
    CHECK(central_europe->daylight_ends.time_of_day == 3 * kHour);

    // Greenland: a change at -1:00 local time, which RFC 8536 allows.
    auto greenland = parse_posix_tz("<-02>2<-01>,M3.5.0/-1,M10.5.0/0");
    REQUIRE(greenland.ok());
    CHECK(greenland->daylight_begins.time_of_day == -kHour);
}

TEST_CASE("a POSIX TZ rule that is incomplete or malformed is refused") {
    CHECK(parse_posix_tz("EST").error() == "TZ rule \"EST\": expected hours at \"\"");
    CHECK(parse_posix_tz("CET-1CEST").error() ==
          "TZ rule \"CET-1CEST\": daylight saving time without the dates it begins and ends");
    CHECK(parse_posix_tz("EST5EDT,M13.1.0,M11.1.0").error() ==
          "TZ rule \"EST5EDT,M13.1.0,M11.1.0\": expected Mmonth.week.weekday at \"13.1.0,M11.1.0\"");
    CHECK_FALSE(parse_posix_tz("E5").ok());
}
