// zq-trace: follow what nodes publish, one decoded line per message, or trace one job's whole
// path across nodes.
//
//   zq-trace [--node ENDPOINT]... [--json] [filters] [--count N] [--timeout SEC] [--record FILE]
//   zq-trace --job ID --node ENDPOINT... [--json] [--timeout SEC] [--record FILE]
//   zq-trace --replay FILE [the same options]
//
// Filters (each repeatable): --filter-node NAME, --command CMD, --queue Q, --task T,
// --state ST; --events-only, --tap-only, --broadcasts choose the streams.
//
// --record writes every message received from the chosen streams (and, with --job, the
// history fetched), before the other filters, so that --replay with the same options prints
// the same lines, and with other filters a different slice of the same trace.
//
// Exit codes: 0 success (--job: the job's end was seen; otherwise the trace ended by --count,
// --timeout, the end of a replay or a signal); 2 bad usage, a node that does not answer, an
// unreadable recording; 3 --job ended before the job's end was seen, or --count lines did not
// come before the timeout (or the end of the replay); 1 anything else (a failed write).
#include "event_format.hpp"
#include "event_source.hpp"
#include "job_path.hpp"

#include <zq/defaults.hpp>
#include <zq/job.hpp>
#include <zq/protocol.hpp>

#include <CLI/CLI.hpp>

#include <signal.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <functional>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

namespace {

using zq::Event;
using zq::trace::EventSource;
using Clock = std::chrono::steady_clock;
using Milliseconds = std::chrono::milliseconds;

enum ExitCode : int {
    exit_success = 0,
    exit_failed = 1,      // a write failed, or an unexpected error
    exit_usage = 2,       // bad command line, unreachable node, unreadable recording
    exit_incomplete = 3,  // the job's end, or --count lines, did not come in time
};

constexpr double kDefaultJobSeconds = 10.0;
// How often the loop looks at the signal flag while nothing arrives.
constexpr Milliseconds kPollSlice{100};
// After a job's end is seen, how long --job keeps reading: the node sends the STATE to its
// client and the STATE-ACK in the same turn as the terminal EVENT, and they may arrive just
// after it.
constexpr Milliseconds kTrailingWindow{200};

const char* const kFooter =
    "The tap shows messages only while it is on: zq-node trace on --node ENDPOINT.\n\n"
    "Exit codes: 0 success (--job: the job's end was seen); 2 bad usage, a node that does not answer\n"
    "or an unreadable recording; 3 --job stopped before the job ended, or --count lines did not come\n"
    "before the timeout or the end of the replay; 1 anything else.";

volatile std::sig_atomic_t stop_requested = 0;

void request_stop(int) { stop_requested = 1; }

void install_signal_handlers() {
    struct sigaction action {};
    action.sa_handler = request_stop;
    sigemptyset(&action.sa_mask);
    // No SA_RESTART: a signal interrupts the poll, and the loop sees the flag at once.
    sigaction(SIGINT, &action, nullptr);
    sigaction(SIGTERM, &action, nullptr);
}

struct Options {
    std::vector<std::string> nodes;
    std::vector<std::string> publishers;
    bool json = false;
    zq::EventFilter filter;
    bool events_only = false;
    bool tap_only = false;
    bool broadcasts = false;
    std::string job;
    std::string record;
    std::string replay;
    std::optional<std::uint64_t> count;
    std::optional<double> timeout_seconds;
    std::string key_dir;
    std::string server_key;
};

Milliseconds to_milliseconds(double seconds) {
    return Milliseconds(static_cast<std::int64_t>(seconds * 1000.0 + 0.5));
}

void warn(const std::string& text) { std::cerr << "zq-trace: " << text << std::endl; }

int fail(const zq::Error& error) {
    warn(error.message);
    switch (error.code) {
    case zq::ErrorCode::bad_input:
    case zq::ErrorCode::unreachable: return exit_usage;
    case zq::ErrorCode::timed_out: return exit_incomplete;
    case zq::ErrorCode::failed:
    case zq::ErrorCode::not_found: return exit_failed;
    }
    return exit_failed;
}

// Command names --command accepts: every ZQP command, as the tap names them.
std::string check_command(const std::string& name) {
    std::string upper = name;
    std::transform(upper.begin(), upper.end(), upper.begin(), [](unsigned char c) { return std::toupper(c); });
    for (const auto& spec : zq::protocol::kCommands) {
        if (spec.name == upper) return {};
    }
    std::string known;
    for (const auto& spec : zq::protocol::kCommands) known += (known.empty() ? "" : ", ") + std::string(spec.name);
    return "unknown command '" + name + "' (expected one of " + known + ")";
}

std::string check_state(const std::string& name) {
    if (zq::job_state_from_string(name)) return {};
    return "unknown job state '" + name +
           "' (expected pending, accepted, queued, running, succeeded, failed, error, canceled, retrying or waiting)";
}

// Reports what the subscriber missed, so that a trace with holes says so.
void report_losses(const EventSource& source) {
    for (const auto& stream : source.counters()) {
        if (stream.missed == 0) continue;
        warn(std::to_string(stream.missed) + " messages of " + stream.node + "'s " + stream.stream +
             " stream never arrived (" + std::to_string(stream.received) +
             " did): the subscriber was too slow, or the network dropped them");
    }
}

// Reads events until `keep_going` says stop, the deadline or `stop_at` passes (live only),
// the recording ends or a signal comes. Every event read is recorded first. Returns a failure
// to exit with.
std::optional<int> read_events(EventSource& source, zq::trace::Recorder* recorder,
                               std::optional<Clock::time_point> deadline,
                               const std::function<bool(const Event&)>& keep_going,
                               const std::function<std::optional<Clock::time_point>()>& stop_at = {}) {
    while (stop_requested == 0) {
        std::optional<Clock::time_point> until;
        if (source.live()) until = deadline;
        if (source.live() && stop_at) {
            if (auto sooner = stop_at(); sooner && (!until || *sooner < *until)) until = sooner;
        }
        Milliseconds wait = kPollSlice;
        if (until) {
            const auto now = Clock::now();
            if (now >= *until) return std::nullopt;
            wait = std::min(wait, std::chrono::ceil<Milliseconds>(*until - now));
        }
        auto next = source.next(wait);
        if (!next) return fail(next.failure());
        if (!*next) {
            if (source.finished()) return std::nullopt;
            continue;
        }
        if (recorder) {
            if (auto written = recorder->write(**next); !written) return fail(written.failure());
        }
        if (!keep_going(**next)) return std::nullopt;
    }
    return std::nullopt;
}

int follow(EventSource& source, zq::trace::Recorder* recorder, const Options& options) {
    std::optional<Clock::time_point> deadline;
    if (options.timeout_seconds) deadline = Clock::now() + to_milliseconds(*options.timeout_seconds);
    std::uint64_t printed = 0;
    auto failure = read_events(source, recorder, deadline, [&](const Event& event) {
        if (!options.filter.matches(event)) return true;
        std::cout << zq::trace::render(event, options.json) << std::endl;
        ++printed;
        return !options.count || printed < *options.count;
    });
    report_losses(source);
    if (failure) return *failure;
    if (options.count && printed < *options.count && stop_requested == 0) return exit_incomplete;
    return exit_success;
}

int trace_job(EventSource& source, zq::trace::Recorder* recorder, const Options& options) {
    const auto deadline = Clock::now() + to_milliseconds(options.timeout_seconds.value_or(kDefaultJobSeconds));
    zq::trace::JobPath path(options.job);
    std::optional<Clock::time_point> end_seen_at;
    auto failure = read_events(
        source, recorder, deadline,
        [&](const Event& event) {
            path.add(event);
            if (!end_seen_at && path.end_seen()) end_seen_at = Clock::now();
            return true;
        },
        [&]() -> std::optional<Clock::time_point> {
            if (!end_seen_at) return std::nullopt;
            return *end_seen_at + kTrailingWindow;
        });
    if (failure) return *failure;
    zq::trace::print_path(std::cout, path, options.filter, options.json);
    std::cout.flush();
    report_losses(source);
    return path.end_seen() ? exit_success : exit_incomplete;
}

int run(const Options& given) {
    Options options = given;
    options.filter.events = !options.tap_only;
    options.filter.tap = !options.events_only;
    options.filter.broadcasts = options.broadcasts;

    std::unique_ptr<zq::trace::Recorder> recorder;
    if (!options.record.empty()) {
        auto opened = zq::trace::Recorder::open(options.record);
        if (!opened) return fail(opened.failure());
        recorder = std::move(*opened);
    }

    zq::Result<std::unique_ptr<EventSource>> source = zq::Error{"no source"};
    if (!options.replay.empty()) {
        source = zq::trace::open_replay(options.replay);
    } else {
        if (options.nodes.empty() && options.publishers.empty()) options.nodes.push_back(zq::default_node_endpoint());
        zq::trace::LiveOptions live{.nodes = options.nodes,
                                    .publishers = options.publishers,
                                    .events = options.filter.events,
                                    .tap = options.filter.tap,
                                    .broadcasts = options.filter.broadcasts,
                                    .history_of_job = options.job};
        auto credentials = zq::load_credentials(options.key_dir, options.server_key);
        if (!credentials) return fail(credentials.failure());
        live.credentials = std::move(*credentials);
        // A trace told to end within S seconds does not wait longer than that for a node.
        if (options.timeout_seconds) live.timeout = std::min(live.timeout, to_milliseconds(*options.timeout_seconds));
        source = zq::trace::open_live(live, warn);
    }
    if (!source) return fail(source.failure());

    install_signal_handlers();
    if (!options.job.empty()) return trace_job(**source, recorder.get(), options);
    return follow(**source, recorder.get(), options);
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Follow the job events and the protocol tap of zq nodes, or trace one job across them.", "zq-trace"};
    Options options;
    app.add_option("--node", options.nodes,
                   "zq-node client endpoint to follow (repeatable; default $ZQ_NODE, else the default data "
                   "directory's socket); its publisher is found through its status");
    app.add_option("--publisher", options.publishers,
                   "a node's publisher endpoint (fanout.endpoint), followed without asking the node (repeatable)");
    app.add_option("--key", options.key_dir, "this client's CURVE key pair, for tcp nodes with keys");
    app.add_option("--server-key", options.server_key, "the node's public key file (its public.key), with --key");
    app.add_flag("--json", options.json,
                 "one JSON object per line: time_us, time, node, inc, seq, kind, dir, peer, cmd, id, task, st, q, "
                 "err, body (the tapped body)");
    app.add_option("--filter-node", options.filter.nodes, "only what this node published (repeatable)");
    app.add_option("--command", options.filter.commands,
                   "only this command: EVENT, TAP, BROADCAST, or a tapped command such as SUBMIT or STATE "
                   "(repeatable)")
        ->check(CLI::Validator(check_command, "COMMAND"));
    app.add_option("--queue", options.filter.queues, "only jobs of this queue (repeatable)");
    app.add_option("--task", options.filter.tasks, "only jobs of this task (repeatable)");
    app.add_option("--state", options.filter.states, "only events and messages with this job state (repeatable)")
        ->check(CLI::Validator(check_state, "STATE"));
    auto* events_only = app.add_flag("--events-only", options.events_only, "only the job event stream (no tap)");
    app.add_flag("--tap-only", options.tap_only, "only the protocol tap (no job events)")->excludes(events_only);
    app.add_flag("--broadcasts", options.broadcasts, "also the broadcast stream (BROADCAST as published)");
    auto* job = app.add_option("--job", options.job,
                               "show this job's whole path across the nodes: their history of it, then live "
                               "until its end at its origin, each hop with the time since the previous one");
    app.add_option("--count", options.count, "stop after printing N lines")
        ->check(CLI::PositiveNumber)
        ->excludes(job);
    app.add_option("--timeout", options.timeout_seconds,
                   "stop after this many seconds (with --job, default 10); a replay runs to its end")
        ->check(CLI::PositiveNumber);
    auto* record = app.add_option("--record", options.record,
                                  "also write every message received (before the filters) to FILE, one JSON "
                                  "object a line");
    app.add_option("--replay", options.replay,
                   "read a --record file instead of nodes and print what the live run printed")
        ->excludes(record)
        ->excludes(app.get_option("--node"))
        ->excludes(app.get_option("--publisher"));
    app.footer(kFooter);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& error) {
        return app.exit(error) == 0 ? exit_success : exit_usage;
    }
    try {
        return run(options);
    } catch (const std::exception& error) {
        warn(error.what());
        return exit_failed;
    }
}
