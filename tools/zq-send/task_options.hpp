// The options of `zq-send TASK` that say when a task may run, how often it is retried, how
// long it may take, and its keyword arguments: read from the text typed on the command line,
// checked, and written into the task's envelope.
//
// CLI11 hands them over as text so that every refusal can say what was wrong with which
// option and which form was expected: a number of seconds must be finite and within bounds
// (CLI11's own number checks let "nan" and "inf" through), a time must be RFC 3339 with an
// offset, an expiry must come after the ETA, a keyword argument must be KEY=JSON.
#pragma once

#include <zq/result.hpp>
#include <zq/task.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace zq::send {

// The longest delay, time limit or timeout zq-send accepts, in seconds: 366 days. The node
// holds longer retry delays at a year anyway.
inline constexpr double kMaxDelaySeconds = 366.0 * 24 * 3600;
// The furthest ahead --countdown and --expires SECONDS may reach: 100 years.
inline constexpr double kMaxAheadSeconds = 100 * 365.25 * 24 * 3600;
// The most retries a job may ask for; the node caps larger counts at this.
inline constexpr std::uint32_t kMaxRetries = 1000;
// The heaviest --weight zq-send accepts, in capacity units.
inline constexpr std::uint32_t kMaxWeight = 1'000'000;

// The options as typed; an empty optional or vector means the option was not given.
struct TaskOptions {
    std::optional<std::string> eta;                // --eta TIME
    std::optional<std::string> countdown;          // --countdown SECONDS
    std::optional<std::string> expires;            // --expires TIME|SECONDS
    std::optional<std::string> retries;            // --retries N
    std::optional<std::string> retry_delay;        // --retry-delay SECONDS
    std::optional<std::string> retry_backoff;      // --retry-backoff SECONDS
    std::optional<std::string> retry_backoff_max;  // --retry-backoff-max SECONDS
    bool retry_jitter = false;                     // --retry-jitter
    bool retry_on_worker_lost = false;             // --retry-on-worker-lost
    std::optional<std::string> soft_limit;         // --soft-limit SECONDS
    std::optional<std::string> hard_limit;         // --hard-limit SECONDS
    std::vector<std::string> kwargs;               // --kwarg KEY=JSON, in the order given
    std::optional<std::string> key;                // --key KEY ("task+args": derived)
    std::optional<std::string> on_duplicate;       // --on-duplicate POLICY
    std::optional<std::string> key_concurrency;    // --key-concurrency N
    std::optional<std::string> weight;             // --weight N
    bool exclusive = false;                        // --exclusive
};

// The largest --key-concurrency accepted.
inline constexpr std::uint32_t kMaxKeyConcurrency = 1'000'000;

// Checks every option and writes it into `task`. `now_ms` (unix ms) is what --countdown and
// a relative --expires count from. On failure `task` may be partly written; the error
// (ErrorCode::bad_input) names the option, the value and the form expected.
Status apply_task_options(const TaskOptions& options, std::int64_t now_ms, Task& task);

// A number of seconds as typed: finite, at least `minimum` (above it, when
// `exclusive_minimum`), at most `maximum`. The error says what is wrong and what is expected
// ("'nan' is not a finite number: expected a number of seconds from 0 to ..."); the caller
// names the option.
Result<double> parse_seconds(std::string_view text, double minimum, double maximum, bool exclusive_minimum = false);

// The current time as unix milliseconds.
std::int64_t unix_ms_now();

}  // namespace zq::send
