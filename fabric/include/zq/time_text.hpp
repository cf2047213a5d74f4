// Times as text: RFC 3339, the form zq reads on command lines (--eta, --expires) and writes
// in JSON (eta, expires, next_attempt). Inside zq every time is unix milliseconds.
#pragma once

#include <zq/result.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace zq {

// "2026-11-29T22:40:00.125Z": UTC, always with milliseconds.
std::string format_rfc3339(std::int64_t unix_ms);

// Reads "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)" (a space or lower-case t may stand
// for the T, z for the Z). The offset is required: a time without one names no instant.
Result<std::int64_t> parse_rfc3339(std::string_view text);

}  // namespace zq
