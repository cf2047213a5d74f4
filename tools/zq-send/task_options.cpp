#include "task_options.hpp"

#include <zq/json.hpp>
#include <zq/time_text.hpp>

#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <system_error>

namespace zq::send {
namespace {

// The span of times zq-send accepts: after the epoch (0 means "not set" on the wire) and
// no later than the last millisecond of the year 9999, where the node holds later times.
constexpr std::int64_t kEarliestUnixMs = 1;
constexpr std::int64_t kLatestUnixMs = 253402300799999LL;

constexpr std::string_view kTimeForm = "an RFC 3339 time such as 2026-11-29T22:40:00Z or 2026-11-29T23:40:00+01:00";

Error usage(std::string_view option, const std::string& what) {
    return Error{std::string(option) + ": " + what, ErrorCode::bad_input};
}

std::string single_quoted(std::string_view text) { return "'" + std::string(text) + "'"; }

// 2.5 → "2.5", 31622400 → "31622400": as short as the value allows.
std::string number_text(double value) {
    char text[32];
    std::snprintf(text, sizeof text, "%.15g", value);
    return text;
}

// "from 0 to 31622400 (366 days)", "above 0, up to 3155760000 (100 years)".
std::string range_text(double minimum, double maximum, bool exclusive_minimum) {
    const double days = maximum / 86400;
    const std::string human =
        days >= 3650 ? number_text(std::round(days / 365.25)) + " years" : number_text(std::round(days)) + " days";
    const std::string low =
        exclusive_minimum ? "above " + number_text(minimum) + ", up to " : "from " + number_text(minimum) + " to ";
    return low + number_text(maximum) + " (" + human + ")";
}

std::int64_t to_ms(double seconds) { return std::llround(seconds * 1000.0); }

// Whether the whole text is a number to std::from_chars, including "nan", "inf" and numbers
// too large for a double: those are refused as numbers, with a message about numbers.
bool reads_as_number(std::string_view text) {
    double value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    return !text.empty() && end == text.data() + text.size() &&
           (error == std::errc() || error == std::errc::result_out_of_range);
}

// parse_seconds() for an option: its errors name the option.
Result<double> seconds_option(std::string_view option, std::string_view text, double minimum, double maximum,
                              bool exclusive_minimum = false) {
    auto seconds = parse_seconds(text, minimum, maximum, exclusive_minimum);
    if (!seconds) return usage(option, seconds.error());
    return seconds;
}

Result<std::int64_t> parse_time(std::string_view option, std::string_view text) {
    auto parsed = parse_rfc3339(text);
    if (!parsed) return usage(option, parsed.error());
    if (*parsed < kEarliestUnixMs || *parsed > kLatestUnixMs) {
        return usage(option, single_quoted(text) +
                                 " is out of range: expected a time after 1970-01-01T00:00:00Z and "
                                 "no later than 9999-12-31T23:59:59.999Z");
    }
    return *parsed;
}

Result<std::uint32_t> parse_retries(std::string_view text) {
    std::uint64_t value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || error != std::errc() || end != text.data() + text.size() || value > kMaxRetries) {
        return usage("--retries",
                     single_quoted(text) + " is not a whole number from 0 to " + std::to_string(kMaxRetries));
    }
    return static_cast<std::uint32_t>(value);
}

// --weight N: the capacity units the job takes on its node while it runs; --exclusive: it runs
// alone there.
Status apply_capacity(const TaskOptions& options, Task& task) {
    if (options.weight) {
        std::string_view text = *options.weight;
        std::uint64_t value = 0;
        const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
        if (text.empty() || error != std::errc() || end != text.data() + text.size() || value < 1 ||
            value > kMaxWeight) {
            return usage("--weight", single_quoted(text) + " is not a whole number of capacity units from 1 to " +
                                         std::to_string(kMaxWeight));
        }
        task.weight = static_cast<std::uint32_t>(value);
    }
    task.exclusive = options.exclusive;
    return success();
}

// When the task may run: --eta or --countdown (one of them), and --expires after both now
// and the ETA.
Status apply_times(const TaskOptions& options, std::int64_t now_ms, Task& task) {
    if (options.eta && options.countdown) {
        return Error{"--eta and --countdown both say when the task may run: give one of them", ErrorCode::bad_input};
    }
    if (options.eta) {
        auto eta = parse_time("--eta", *options.eta);
        if (!eta) return eta.failure();
        task.eta_ms = *eta;
    }
    if (options.countdown) {
        auto seconds = seconds_option("--countdown", *options.countdown, 0, kMaxAheadSeconds);
        if (!seconds) return seconds.failure();
        task.eta_ms = now_ms + to_ms(*seconds);
    }
    if (!options.expires) return success();

    const std::string& text = *options.expires;
    if (reads_as_number(text)) {
        auto seconds = seconds_option("--expires", text, 0, kMaxAheadSeconds, true);
        if (!seconds) return seconds.failure();
        task.expires_ms = now_ms + to_ms(*seconds);
    } else {
        // Text that begins with a date gets the RFC 3339 reader's own word on what is wrong;
        // anything else was probably meant as a number of seconds ("30s", "1h").
        const bool dated = text.size() > 4 && text[4] == '-';
        auto expires = parse_time("--expires", text);
        if (!expires) {
            if (dated) return expires.failure();
            return usage("--expires", single_quoted(text) +
                                          " is neither a number of seconds from now (e.g. 3600) nor " +
                                          std::string(kTimeForm));
        }
        task.expires_ms = *expires;
        if (task.expires_ms <= now_ms) {
            return usage("--expires",
                         format_rfc3339(task.expires_ms) + " has already passed: the job would expire without running");
        }
    }
    if (task.eta_ms > 0 && task.expires_ms <= task.eta_ms) {
        return usage("--expires", "the expiry " + format_rfc3339(task.expires_ms) + " is not after the ETA " +
                                      format_rfc3339(task.eta_ms) + ": the job would expire before it may run");
    }
    return success();
}

Status apply_retry_policy(const TaskOptions& options, Task& task) {
    if (options.retries) {
        auto retries = parse_retries(*options.retries);
        if (!retries) return retries.failure();
        task.max_retries = *retries;
    }
    struct Delay {
        std::string_view option;
        const std::optional<std::string>& text;
        double& field;
    };
    for (const Delay& delay : {Delay{"--retry-delay", options.retry_delay, task.retry_delay},
                               Delay{"--retry-backoff", options.retry_backoff, task.retry_backoff},
                               Delay{"--retry-backoff-max", options.retry_backoff_max, task.retry_backoff_max},
                               Delay{"--soft-limit", options.soft_limit, task.soft_time_limit},
                               Delay{"--hard-limit", options.hard_limit, task.hard_time_limit}}) {
        if (!delay.text) continue;
        auto seconds = seconds_option(delay.option, *delay.text, 0, kMaxDelaySeconds);
        if (!seconds) return seconds.failure();
        delay.field = *seconds;
    }
    task.retry_jitter = options.retry_jitter;
    task.retry_on_worker_lost = options.retry_on_worker_lost;
    return success();
}

// --kwarg KEY=JSON: the value is read as positional arguments are (JSON if it parses, else
// the text itself); the key is everything before the first '='.
Status apply_kwargs(const std::vector<std::string>& kwargs, Task& task) {
    if (kwargs.empty()) return success();
    nlohmann::json map = nlohmann::json::object();
    for (const std::string& kwarg : kwargs) {
        const auto equals = kwarg.find('=');
        if (equals == std::string::npos) {
            return usage("--kwarg", single_quoted(kwarg) + " has no '=': expected KEY=JSON, e.g. --kwarg limit=10");
        }
        const std::string key = kwarg.substr(0, equals);
        if (key.empty()) return usage("--kwarg", single_quoted(kwarg) + " has an empty key: expected KEY=JSON");
        if (map.contains(key)) return usage("--kwarg", "the key " + single_quoted(key) + " is given twice");
        map[key] = parse_cli_argument(std::string_view(kwarg).substr(equals + 1));
    }
    task.kwargs = pack_json(map);
    return success();
}

// --key, --on-duplicate, --key-concurrency: uniqueness and throttling.
Status apply_key(const TaskOptions& options, Task& task) {
    if (options.key) {
        if (options.key->empty()) return usage("--key", "the key is empty: expected a text, or task+args");
        task.unique_key = *options.key;
    }
    if (options.on_duplicate) {
        const std::string& policy = *options.on_duplicate;
        if (policy != "parallel" && policy != "discard" && policy != "serial" && policy != "queue_one") {
            return usage("--on-duplicate", single_quoted(policy) + " is not one of parallel, discard, serial, queue_one");
        }
        task.unique_policy = policy;
    }
    if (options.key_concurrency) {
        const std::string& text = *options.key_concurrency;
        std::uint64_t value = 0;
        const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
        if (text.empty() || error != std::errc() || end != text.data() + text.size() || value < 1 ||
            value > kMaxKeyConcurrency) {
            return usage("--key-concurrency", single_quoted(text) + " is not a whole number from 1 to " +
                                                  std::to_string(kMaxKeyConcurrency));
        }
        task.key_concurrency = static_cast<std::uint32_t>(value);
    }
    if ((options.on_duplicate || options.key_concurrency) && !options.key) {
        return Error{"--on-duplicate and --key-concurrency need --key KEY (or --key task+args)", ErrorCode::bad_input};
    }
    return success();
}

}  // namespace

Result<double> parse_seconds(std::string_view text, double minimum, double maximum, bool exclusive_minimum) {
    double value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    const std::string expected = "expected a number of seconds " + range_text(minimum, maximum, exclusive_minimum);
    if (text.empty() || end != text.data() + text.size() ||
        (error != std::errc() && error != std::errc::result_out_of_range)) {
        return Error{single_quoted(text) + " is not a number: " + expected, ErrorCode::bad_input};
    }
    if (error == std::errc::result_out_of_range || !std::isfinite(value)) {
        return Error{single_quoted(text) + " is not a finite number: " + expected, ErrorCode::bad_input};
    }
    if (value < minimum || (exclusive_minimum && value == minimum) || value > maximum) {
        return Error{std::string(text) + " is out of range: " + expected, ErrorCode::bad_input};
    }
    return value;
}

std::int64_t unix_ms_now() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

Status apply_task_options(const TaskOptions& options, std::int64_t now_ms, Task& task) {
    if (auto times = apply_times(options, now_ms, task); !times) return times;
    if (auto policy = apply_retry_policy(options, task); !policy) return policy;
    if (auto key = apply_key(options, task); !key) return key;
    if (auto capacity = apply_capacity(options, task); !capacity) return capacity;
    return apply_kwargs(options.kwargs, task);
}

}  // namespace zq::send
