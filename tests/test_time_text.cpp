// RFC 3339 times, as zq-send reads them and JSON shows them: instants with an offset, to the
// millisecond, and clear errors for anything else.
#include <zq/time_text.hpp>

#include <catch2/catch.hpp>

TEST_CASE("an RFC 3339 time reads as the instant it names, whatever its offset") {
    CHECK(zq::parse_rfc3339("1970-01-01T00:00:00Z").value() == 0);
    CHECK(zq::parse_rfc3339("2023-11-14T22:13:20Z").value() == 1700000000000);
    CHECK(zq::parse_rfc3339("2023-11-14T22:13:20.5Z").value() == 1700000000500);
    CHECK(zq::parse_rfc3339("2023-11-14T22:13:20.123456z").value() == 1700000000123);
    CHECK(zq::parse_rfc3339("2023-11-15T00:13:20+02:00").value() == 1700000000000);
    CHECK(zq::parse_rfc3339("2023-11-14 17:13:20-05:00").value() == 1700000000000);
    CHECK(zq::parse_rfc3339("2024-02-29T12:00:00Z").ok());
}

TEST_CASE("a time is written in UTC with milliseconds, and reads back as itself") {
    CHECK(zq::format_rfc3339(1700000000123) == "2023-11-14T22:13:20.123Z");
    CHECK(zq::format_rfc3339(0) == "1970-01-01T00:00:00.000Z");
    for (std::int64_t ms : {std::int64_t{1}, std::int64_t{1700000000999}, std::int64_t{253402300799999}}) {
        CHECK(zq::parse_rfc3339(zq::format_rfc3339(ms)).value() == ms);
    }
}

TEST_CASE("a time that is not RFC 3339 is refused with the form expected") {
    for (const char* bad : {"", "tomorrow", "2023-11-14", "2023-11-14T22:13:20", "2023-11-14T22:13Z",
                            "2023-02-30T00:00:00Z", "2023-11-14T24:00:00Z", "2023-11-14T22:13:20+2:00",
                            "2023-11-14T22:13:20Z junk", "2023-11-14T22:13:20.Z"}) {
        INFO(bad);
        auto parsed = zq::parse_rfc3339(bad);
        REQUIRE_FALSE(parsed);
        CHECK_THAT(parsed.error(), Catch::Contains("is not RFC 3339"));
        CHECK(parsed.error_code() == zq::ErrorCode::bad_input);
    }
}
