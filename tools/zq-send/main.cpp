// zq-send: submit a task to the local zq-node, or look at, wait for and cancel a job.
//
//   zq-send [--node ENDPOINT] [--queue Q] [--target NODE] [--wait] [--timeout SEC] [--json]
//           [--priority N] [--id ID] [--soft-limit SEC] [--hard-limit SEC] [--broadcast]
//           [--eta TIME | --countdown SEC] [--expires TIME|SEC]
//           [--retries N] [--retry-delay SEC] [--retry-backoff SEC] [--retry-backoff-max SEC]
//           [--retry-jitter] [--retry-on-worker-lost] [--kwarg KEY=JSON]...
//           [--key KEY|task+args] [--on-duplicate POLICY] [--key-concurrency N]
//           [--weight N] [--exclusive] TASK [ARG...]
//   zq-send status|result|cancel|wait ID [--node ENDPOINT | --data DIR] [--timeout SEC] [--json]
//   zq-send workflow FILE|- [--node ENDPOINT] [--id ID] [--wait] [--timeout SEC] [--json]
//           (workflow_command.hpp)
//
// TIME is RFC 3339 with an offset (2026-11-29T22:40:00Z); SEC a number of seconds. The
// options that shape the task's envelope are read and checked in task_options.hpp.
//
// `--data DIR` names the node by its data directory (its socket is ipc://DIR/node.sock).
// With `cancel`, it also works while that node is down: the cancel is written to the node's
// journal and the node cancels the job when it starts (see journal_cancel.hpp). `wait ID`
// waits for a job that already exists, as `--wait` does after a submission (30 s unless
// --timeout says otherwise), and prints the same.
//
// The two forms share their first word: a first positional argument of status, result,
// cancel or wait followed by exactly one job-id-like argument (letters, digits, '.', '_',
// ':', '-', '@' as in a broadcast's run ID@NODE, '/' as in a workflow's step WF/3) is a job command; anything else is a
// task. A job command given with an option only a submission takes (`zq-send --wait result
// ID`) is refused, as it is ambiguous; to submit a task that is literally called "status",
// put "--" before it (`zq-send --wait -- status ID`).
//
// Exit codes, the same for every form: 0 success; 1 the job failed, ended in error, expired
// or was canceled, the node rejected the task, or there is no such job; 2 bad usage; 3 the
// node did not answer, or the awaited outcome did not come in time (`result` of a job that
// has not finished yet exits 3 too: ask again later).
#include "journal_cancel.hpp"
#include "key_options.hpp"
#include "task_options.hpp"
#include "workflow_command.hpp"

#include <zq/client.hpp>
#include <zq/defaults.hpp>
#include <zq/json.hpp>
#include <zq/time_text.hpp>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

using zq::ErrorCode;
using Milliseconds = std::chrono::milliseconds;

enum ExitCode : int {
    exit_success = 0,
    exit_failed = 1,       // failed, error, expired or canceled job; REJECTED; no such job
    exit_usage = 2,        // bad command line
    exit_unreachable = 3,  // no answer from the node, or the wait timed out
};

// Without --timeout: how long the node has to answer a request, and how long --wait waits.
constexpr double kDefaultRequestSeconds = 5.0;
constexpr double kDefaultWaitSeconds = 30.0;

constexpr std::array<std::string_view, 4> kJobCommands = {"status", "result", "cancel", "wait"};

// Options that take a value (so the word after them is not a positional argument) and
// options that only make sense when submitting (so their presence means a task follows).
// A table reads better than one option a line.
// clang-format off
constexpr std::array<std::string_view, 23> kValueOptions = {
    "--node",    "--data",       "--queue",       "--target",          "--timeout",     "--priority",
    "--id",      "--soft-limit", "--hard-limit",  "--eta",             "--countdown",   "--expires",
    "--retries", "--retry-delay", "--retry-backoff", "--retry-backoff-max", "--kwarg",
    "--key",     "--on-duplicate", "--key-concurrency", "--weight", "--client-key", "--server-key"};
constexpr std::array<std::string_view, 23> kSubmitOnlyOptions = {
    "--queue",        "--target",      "--wait",          "--priority",          "--id",
    "--soft-limit",   "--hard-limit",  "--broadcast",     "--eta",               "--countdown",
    "--expires",      "--retries",     "--retry-delay",   "--retry-backoff",     "--retry-backoff-max",
    "--retry-jitter", "--retry-on-worker-lost", "--kwarg",
    "--key",          "--on-duplicate", "--key-concurrency", "--weight",    "--exclusive"};
// clang-format on

const char* const kExitCodesHelp =
    "Exit codes: 0 success; 1 the job failed, ended in error, expired or was canceled, the node\n"
    "rejected the task, or there is no such job; 2 bad usage; 3 the node did not answer, or the\n"
    "outcome did not come in time.";

// --timeout: a finite number of seconds above 0 (CLI11's PositiveNumber lets "nan" through).
const CLI::Validator kTimeoutSeconds(
    [](std::string& text) {
        auto seconds = zq::send::parse_seconds(text, 0, zq::send::kMaxDelaySeconds, true);
        return seconds ? std::string() : seconds.error();
    },
    "SECONDS");

int exit_code_for(ErrorCode code) {
    switch (code) {
    case ErrorCode::unreachable:
    case ErrorCode::timed_out:
        return exit_unreachable;
    case ErrorCode::bad_input:
        return exit_usage;
    case ErrorCode::failed:
    case ErrorCode::not_found:
        return exit_failed;
    }
    return exit_failed;
}

std::string_view code_name(ErrorCode code) {
    switch (code) {
    case ErrorCode::failed: return "failed";
    case ErrorCode::unreachable: return "unreachable";
    case ErrorCode::timed_out: return "timed_out";
    case ErrorCode::not_found: return "not_found";
    case ErrorCode::bad_input: return "bad_input";
    }
    return "failed";
}

Milliseconds to_milliseconds(double seconds) {
    return Milliseconds(std::llround(seconds * 1000.0));
}

bool is_job_command(std::string_view word) {
    return std::find(kJobCommands.begin(), kJobCommands.end(), word) != kJobCommands.end();
}

bool looks_like_job_id(std::string_view text) {
    if (text.empty() || text.size() > 256 || text.front() == '-') return false;
    return std::all_of(text.begin(), text.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
               c == ':' || c == '-' || c == '@' || c == '/';
    });
}

// Mirrors how CLI11 tells options from positional arguments: "-5" is a (negative number)
// argument, "-x" and "--name" are options.
bool looks_like_option(std::string_view word) {
    if (word.size() < 2 || word[0] != '-') return false;
    if (word[1] == '-') return word.size() > 2;
    return !(word[1] >= '0' && word[1] <= '9');
}

// A command line split the way CLI11 reads it: option words (with the values of options that
// take one) and positional words, both in order. zq-send hands CLI11 only the options and the
// task name, and reads the task's arguments itself, because CLI11 would split a positional such
// as "[1,2]" into two values, and JSON arguments must reach the task as typed.
struct CommandLine {
    std::vector<std::string> options;
    std::vector<std::string> positionals;
    bool submit_only = false;   // an option that only a submission takes was given
    bool marker_first = false;  // "--" came before the first positional
};

CommandLine split_command_line(const std::vector<std::string>& words) {
    CommandLine line;
    bool after_marker = false;
    for (std::size_t i = 0; i < words.size(); ++i) {
        const std::string& word = words[i];
        if (after_marker) {
            line.positionals.push_back(word);
            continue;
        }
        if (word == "--") {
            after_marker = true;
            line.marker_first = line.positionals.empty();
            continue;
        }
        if (!looks_like_option(word)) {
            line.positionals.push_back(word);
            continue;
        }
        line.options.push_back(word);
        const auto equals = word.find('=');
        const std::string_view name = std::string_view(word).substr(0, equals);
        // --key DIR (a key pair) is the CURVE key every command takes, not the uniqueness key.
        const bool key_pair = name == "--key" &&
                              zq::send::is_key_pair_dir(equals != std::string::npos ? word.substr(equals + 1)
                                                        : i + 1 < words.size() ? words[i + 1]
                                                                               : std::string());
        if (!key_pair &&
            std::find(kSubmitOnlyOptions.begin(), kSubmitOnlyOptions.end(), name) != kSubmitOnlyOptions.end()) {
            line.submit_only = true;
        }
        if (equals == std::string::npos && i + 1 < words.size() &&
            std::find(kValueOptions.begin(), kValueOptions.end(), name) != kValueOptions.end()) {
            line.options.push_back(words[++i]);  // the option's value
        }
    }
    return line;
}

// Whether the command line is `status|result|cancel|wait ID` rather than a task submission.
bool is_job_command_line(const CommandLine& line) {
    return !line.submit_only && !line.marker_first && line.positionals.size() == 2 &&
           is_job_command(line.positionals[0]) && looks_like_job_id(line.positionals[1]);
}

// A submission whose task name is a job command, given with a submit-only option and without
// "--" (`zq-send --wait result ID`): was a job command meant, or a task of that name? Both
// are plausible, so it is refused with the way to say each; the sentence, or nothing when the
// command line is not such a submission.
std::optional<std::string> ambiguous_job_command(const CommandLine& line) {
    if (line.marker_first || !line.submit_only || line.positionals.empty()) return std::nullopt;
    const std::string& command = line.positionals.front();
    if (!is_job_command(command)) return std::nullopt;
    const bool waits = std::find(line.options.begin(), line.options.end(), "--wait") != line.options.end();
    const std::string id =
        line.positionals.size() == 2 && looks_like_job_id(line.positionals[1]) ? line.positionals[1] : "ID";
    // With --wait, the job command meant was most likely `wait`.
    std::string meant = command;
    std::string purpose;
    if (command == "cancel") {
        purpose = "to cancel job " + id;
    } else if (command == "wait" || waits) {
        meant = "wait";
        purpose = "to wait for job " + id;
    } else if (command == "status") {
        purpose = "to show job " + id;
    } else {
        purpose = "to get the outcome of job " + id;
    }
    return "'" + command + "' is a job command; " + purpose + " use: zq-send " + meant + " " + id +
           "; to submit a task named " + command + " use: zq-send -- " + command +
           " ... (options such as --wait go before the --)";
}

// What zq-send prints: one JSON object on stdout with --json, human lines otherwise. Errors
// always go to stderr as a sentence as well, so a script reading stdout sees one object.
class Printer {
public:
    explicit Printer(bool json) : json_(json) {}

    void job(const zq::JobInfo& job, const nlohmann::json& extra = nlohmann::json::object()) const {
        if (json_) {
            nlohmann::json object = zq::to_json(job);
            object.update(extra);
            std::cout << zq::dump_json(object) << std::endl;
        } else {
            std::cout << describe(job) << std::endl;
        }
    }

    // The job's times and attempts, those that are set, one line each below the job's line:
    // "  eta: 2026-11-29T22:40:30.000Z (in 29.8 s)". Nothing with --json, whose object has them.
    void times(const zq::JobInfo& job, std::int64_t now_ms) const {
        if (json_) return;
        if (job.eta_ms > 0) std::cout << "  eta: " << when(job.eta_ms, now_ms) << "\n";
        if (job.expires_ms > 0) std::cout << "  expires: " << when(job.expires_ms, now_ms) << "\n";
        if (job.attempts > 0) std::cout << "  attempts: " << job.attempts << "\n";
        if (job.next_attempt_ms > 0) std::cout << "  next attempt: " << when(job.next_attempt_ms, now_ms) << "\n";
        std::cout.flush();
    }

    void line(const std::string& text) const {
        if (!json_) std::cout << text << std::endl;
    }

    void note(const std::string& text) const {
        if (!json_) std::cerr << "zq-send: " << text << std::endl;
    }

    int error(const zq::Error& error, std::string_view id = {}) const {
        std::cerr << "zq-send: " << error.message << std::endl;
        if (json_) {
            nlohmann::json object = {
                {"id", id.empty() ? nlohmann::json(nullptr) : nlohmann::json(std::string(id))},
                {"state", nullptr},
                {"result", nullptr},
                {"error", error.message},
                {"node", nullptr},
                {"code", std::string(code_name(error.code))},
            };
            std::cout << zq::dump_json(object) << std::endl;
        }
        return exit_code_for(error.code);
    }

    // A broadcast's outcome: one line per node, then the broadcast's own line; with --json
    // one object with `outcomes: [{node, state, result, error}]`.
    void broadcast(const zq::JobInfo& job, const nlohmann::json& extra) const {
        auto outcomes = zq::broadcast_outcomes(job);
        nlohmann::json runs = nlohmann::json::array();
        for (const zq::NodeOutcome& outcome : outcomes) {
            zq::JobInfo run{job.id + "@" + outcome.node, job.task, outcome.state, outcome.result, outcome.error,
                            outcome.node};
            if (json_) {
                runs.push_back(zq::to_json(run));
            } else {
                std::cout << describe(run) << std::endl;
            }
        }
        zq::JobInfo summary = job;
        summary.result.clear();  // the outcomes above, not repeated
        if (json_) {
            nlohmann::json object = zq::to_json(summary);
            object.update(extra);
            object["outcomes"] = runs;
            std::cout << zq::dump_json(object) << std::endl;
        } else if (summary.succeeded()) {
            std::cout << job.id << " succeeded on all " << outcomes.size() << " nodes" << std::endl;
        } else {
            std::cout << describe(summary) << std::endl;
        }
    }

    // "ID succeeded on NODE: RESULT", "ID failed on NODE: ERROR", "ID is running on NODE".
    static std::string describe(const zq::JobInfo& job) {
        const std::string where = job.node.empty() ? std::string() : " on " + job.node;
        const std::string state(zq::to_string(job.state));
        if (!job.terminal()) return job.id + " is " + state + where;
        if (job.succeeded()) {
            return job.id + " succeeded" + where + ": " + zq::dump_json(zq::packed_to_json(job.result));
        }
        return job.id + " " + state + where + ": " + (job.error.empty() ? "(no error text)" : job.error);
    }

private:
    // "2026-11-29T22:40:30.000Z (in 29.8 s)", "2026-11-29T22:39:00.000Z (1.5 min ago)".
    static std::string when(std::int64_t unix_ms, std::int64_t now_ms) {
        const double seconds = static_cast<double>(unix_ms - now_ms) / 1000.0;
        const double magnitude = std::abs(seconds);
        char amount[48];
        if (magnitude < 100) {
            std::snprintf(amount, sizeof amount, "%.1f s", magnitude);
        } else if (magnitude < 100 * 60) {
            std::snprintf(amount, sizeof amount, "%.1f min", magnitude / 60);
        } else if (magnitude < 48 * 3600) {
            std::snprintf(amount, sizeof amount, "%.1f h", magnitude / 3600);
        } else if (magnitude < 365 * 86400) {
            std::snprintf(amount, sizeof amount, "%.1f days", magnitude / 86400);
        } else {
            std::snprintf(amount, sizeof amount, "%.1f years", magnitude / (365.25 * 86400));
        }
        return zq::format_rfc3339(unix_ms) +
               (seconds >= 0 ? " (in " + std::string(amount) + ")" : " (" + std::string(amount) + " ago)");
    }

    bool json_;
};

int job_exit_code(const zq::JobInfo& job) {
    if (!job.terminal()) return exit_unreachable;
    return job.succeeded() ? exit_success : exit_failed;
}

// What `--wait` after a submission and `wait ID` print once the job has ended, and their exit
// code: the same for both, so that a script can use either.
int report_outcome(const Printer& print, const zq::JobInfo& job, bool broadcast, bool duplicate) {
    const nlohmann::json extra = {{"duplicate", duplicate}};
    if (broadcast) {
        print.broadcast(job, extra);
    } else {
        print.job(job, extra);
    }
    return job_exit_code(job);
}

int parse_error(const CLI::App& app, const CLI::ParseError& error) {
    // CLI11 prints help or the error; zq-send's own exit codes replace CLI11's.
    const int code = app.exit(error);
    return code == 0 ? exit_success : exit_usage;
}

// The end of a cancel, the same for the node's answer and for the journal: a job that is
// canceled, or is to be, exits 0; one that had already ended some other way exits 1.
int report_cancel(const Printer& print, const zq::JobInfo& job, const std::string& requested_note) {
    if (job.state == zq::JobState::canceled) {
        print.job(job);
        return exit_success;
    }
    if (!job.terminal()) {
        print.job(job, {{"cancel_requested", true}});
        print.note(requested_note);
        return exit_success;
    }
    print.job(job);
    print.note("job " + job.id + " had already " + std::string(zq::to_string(job.state)) + ": not canceled");
    return exit_failed;
}

// cancel ID --data DIR while no node runs on DIR (the lock is held).
int cancel_while_down(const Printer& print, const zq::send::DataDirLock& lock, const std::string& id) {
    auto outcome = zq::send::cancel_in_journal(lock, id);
    if (!outcome) return print.error(outcome.failure(), id);
    return report_cancel(print, outcome->job,
                         "no node runs on " + lock.data_dir() + ": cancel of job " + id +
                             " recorded in its journal; the node cancels the job when it starts");
}

int run_job_command(int argc, char** argv) {
    CLI::App app{"Look at, wait for or cancel a job on zq-node.", "zq-send"};
    std::string command;
    std::string id;
    std::string node = zq::default_node_endpoint();
    std::string data_dir;
    std::optional<double> timeout_seconds;
    bool json = false;
    app.add_option("COMMAND", command,
                   "status: show the job; result: its outcome (exit 3 if not finished); cancel: cancel it; "
                   "wait: wait for it to end and print its outcome, as --wait does after a submission")
        ->required()
        ->check(CLI::IsMember({"status", "result", "cancel", "wait"}));
    app.add_option("ID", id, "job id")->required();
    CLI::Option* node_option =
        app.add_option("--node", node, "zq-node endpoint ($ZQ_NODE, else the default data directory's socket)")
            ->capture_default_str();
    app.add_option("--data", data_dir,
                   "the node's data directory instead of --node (its socket is ipc://DIR/node.sock); with "
                   "cancel, when no node runs on DIR, the cancel is written to its journal and the node "
                   "cancels the job when it starts")
        ->excludes(node_option);
    std::string key_dir, server_key;
    zq::send::add_key_options(app, key_dir, server_key, true);
    app.add_option("--timeout", timeout_seconds,
                   "seconds to wait for the node's answer (default 5); with wait, the most seconds to wait for "
                   "the job to end (default 30)")
        ->check(kTimeoutSeconds);
    app.add_flag("--json", json,
                 "print one JSON object: {id, task, state, result, error, node, eta, expires, attempts, "
                 "next_attempt}");
    app.footer(kExitCodesHelp);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& error) {
        return parse_error(app, error);
    }

    const Printer print(json);
    if (!data_dir.empty()) node = zq::node_endpoint_for(data_dir);
    if (command == "cancel" && !data_dir.empty()) {
        // A node running on DIR holds its lock: ask that node, as without --data.
        auto lock = zq::send::DataDirLock::try_take(data_dir);
        if (!lock) return print.error(lock.failure(), id);
        if (*lock) return cancel_while_down(print, **lock, id);
    }
    auto credentials = zq::load_credentials(key_dir, server_key);
    if (!credentials) return print.error(credentials.failure(), id);
    zq::Client client(node, *credentials);
    const Milliseconds timeout =
        to_milliseconds(timeout_seconds.value_or(command == "wait" ? kDefaultWaitSeconds : kDefaultRequestSeconds));

    if (command == "status") {
        auto job = client.status(id, timeout);
        if (!job) return print.error(job.failure(), id);
        print.job(*job);
        print.times(*job, zq::send::unix_ms_now());
        return exit_success;
    }
    if (command == "wait") {
        // Asks the node for the job first, so an unknown id fails at once (not_found).
        auto job = client.wait(id, timeout);
        if (!job) return print.error(job.failure(), id);
        // A broadcast's result maps each node to its outcome; --wait printed one line per node.
        const bool broadcast = !zq::broadcast_outcomes(*job).empty();
        return report_outcome(print, *job, broadcast, false);
    }
    if (command == "result") {
        auto job = client.status(id, timeout);
        if (!job) return print.error(job.failure(), id);
        print.job(*job);
        if (!job->terminal()) print.note("job " + id + " has not finished yet: ask again later");
        return job_exit_code(*job);
    }
    // cancel: a running job's worker is asked to stop, and the job ends as canceled shortly.
    auto job = client.cancel(id, timeout);
    if (!job) return print.error(job.failure(), id);
    return report_cancel(print, *job, "cancel of job " + id + " requested");
}

int run_submit(const char* program, const CommandLine& line) {
    CLI::App app{"Submit a task to zq-node; with --wait, wait for and print its outcome.", "zq-send"};
    std::string node = zq::default_node_endpoint();
    std::string task_name;
    std::vector<std::string> arguments;
    zq::Task task;
    zq::send::TaskOptions task_options;
    std::optional<double> timeout_seconds;
    bool wait = false;
    bool json = false;
    app.add_option("TASK", task_name, "task name")->required();
    // Declared for the help text only: the arguments are taken from `line` (see CommandLine).
    app.add_option("ARG", arguments,
                   "positional arguments: one that parses as JSON is sent as that value (3, true, [1,2], "
                   "\"\\\"3\\\"\"), anything else as a string; put -- before arguments that start with -");
    app.add_option("--node", node, "zq-node endpoint ($ZQ_NODE, else the default data directory's socket)")
        ->capture_default_str();
    std::string key_dir, server_key;
    zq::send::add_key_options(app, key_dir, server_key, false);
    app.add_option("--queue", task.queue, "queue")->capture_default_str();
    app.add_option("--target", task.target, "name of the node that must run the task");
    app.add_flag("--wait", wait, "wait for the job to finish and print its outcome");
    bool broadcast = false;
    app.add_flag("--broadcast", broadcast,
                 "run the task once on every live node (this one too); with --wait, print one outcome per "
                 "node (exit 1 unless all succeeded)");
    app.add_option("--timeout", timeout_seconds,
                   "with --wait, the most seconds to spend in all (default 30; the node must accept the "
                   "task within 5); without it, seconds for the node to accept the task (default 5)")
        ->check(kTimeoutSeconds);
    app.add_flag("--json", json, "print one JSON object: {id, task, state, result, error, node, ...}");
    app.add_option("--priority", task.priority, "higher runs first")->capture_default_str();
    app.add_option("--id", task.id, "job id (default: a new UUIDv7); resubmitting an id runs nothing new");
    app.add_option("--soft-limit", task_options.soft_limit, "seconds before the task is asked to stop (SIGUSR1)")
        ->type_name("SECONDS");
    app.add_option("--hard-limit", task_options.hard_limit, "seconds before the task is killed (SIGKILL)")
        ->type_name("SECONDS");
    app.add_option("--eta", task_options.eta,
                   "run no earlier than TIME, RFC 3339 with an offset (2026-11-29T22:40:00Z, "
                   "2026-11-29T23:40:00+01:00); until then the job waits, scheduled")
        ->type_name("TIME");
    app.add_option("--countdown", task_options.countdown, "run no earlier than SECONDS from now (instead of --eta)")
        ->type_name("SECONDS");
    app.add_option("--expires", task_options.expires,
                   "if the job has not started by then, it ends expired without running: an RFC 3339 TIME, or "
                   "a plain number of SECONDS from now; must be after the ETA")
        ->type_name("TIME|SECONDS");
    app.add_option("--retries", task_options.retries, "retry a failed run up to N times (default 0)")->type_name("N");
    app.add_option("--retry-delay", task_options.retry_delay, "seconds between a failed run and its retry")
        ->type_name("SECONDS");
    app.add_option("--retry-backoff", task_options.retry_backoff,
                   "exponential backoff instead: retry n waits SECONDS x 2^(n-1), capped by --retry-backoff-max")
        ->type_name("SECONDS");
    app.add_option("--retry-backoff-max", task_options.retry_backoff_max,
                   "the longest one backoff delay may be (default 600)")
        ->type_name("SECONDS");
    app.add_flag("--retry-jitter", task_options.retry_jitter,
                 "wait a random time between 0 and each retry delay (spreads retries out)");
    app.add_flag("--retry-on-worker-lost", task_options.retry_on_worker_lost,
                 "also retry a run whose worker died (killed, out of memory); by default that fails the job");
    app.add_option("--weight", task_options.weight,
                   "capacity units the job takes on its node while it runs (default 1, or its task's weight)")
        ->type_name("N");
    app.add_flag("--exclusive", task_options.exclusive, "the job runs alone on its node");
    app.add_option("--kwarg", task_options.kwargs,
                   "a keyword argument, repeatable: the text after the first = is read as ARG is (JSON, else a string)")
        ->type_name("KEY=JSON")
        ->take_all()
        ->allow_extra_args(false);
    app.add_option("--key", task_options.key,
                   "uniqueness and throttle key; task+args derives it from the task name and arguments")
        ->type_name("KEY");
    app.add_option("--on-duplicate", task_options.on_duplicate,
                   "what another job with the key means: parallel (default), discard, serial or queue_one")
        ->type_name("POLICY");
    app.add_option("--key-concurrency", task_options.key_concurrency,
                   "at most N jobs with the key run at once in the cluster")
        ->type_name("N");
    app.footer(
        std::string(
            "Job commands:\n"
            "  zq-send status ID  [--node ENDPOINT | --data DIR] [--json]   show the job\n"
            "  zq-send result ID  [--node ENDPOINT | --data DIR] [--json]   its outcome; exit 3 if not finished\n"
            "  zq-send cancel ID  [--node ENDPOINT | --data DIR] [--json]   cancel it\n"
            "  zq-send wait ID    [--node ENDPOINT | --data DIR] [--timeout SEC] [--json]\n"
            "                     wait for it to end and print its outcome, as --wait does\n"
            "--data DIR names the node by its data directory. With it, cancel works while that node\n"
            "is down too: the cancel is written to its journal and the job is canceled when the node\n"
            "starts.\n"
            "A first argument status, result, cancel or wait followed by one job id is a job command.\n"
            "To submit a task of that name, put -- before it: zq-send --wait -- result ID. Such a\n"
            "name with a submit-only option and no -- is refused (zq-send --wait result ID).\n\n") +
        kExitCodesHelp);
    // The task name first, so that CLI11's messages about options read naturally; after "--"
    // only when it looks like an option itself.
    std::vector<const char*> words = {program};
    if (!line.positionals.empty() && looks_like_option(line.positionals.front())) {
        for (const auto& option : line.options) words.push_back(option.c_str());
        words.push_back("--");
        words.push_back(line.positionals.front().c_str());
    } else {
        if (!line.positionals.empty()) words.push_back(line.positionals.front().c_str());
        for (const auto& option : line.options) words.push_back(option.c_str());
    }
    try {
        app.parse(static_cast<int>(words.size()), words.data());
    } catch (const CLI::ParseError& error) {
        return parse_error(app, error);
    }
    if (!line.positionals.empty()) arguments.assign(line.positionals.begin() + 1, line.positionals.end());
    // --key DIR --server-key FILE: the CURVE pair, as every zq tool takes it (key_options.hpp).
    if (key_dir.empty() && !server_key.empty() && task_options.key && zq::send::is_key_pair_dir(*task_options.key)) {
        key_dir = *task_options.key;
        task_options.key.reset();
    }

    const Printer print(json);
    if (broadcast && !task.target.empty()) {
        std::cerr << "zq-send: --target does not go with --broadcast (a broadcast runs on every node)" << std::endl;
        return exit_usage;
    }
    task.name = task_name;
    if (auto applied = zq::send::apply_task_options(task_options, zq::send::unix_ms_now(), task); !applied) {
        std::cerr << "zq-send: " << applied.error() << std::endl;
        return exit_usage;
    }
    nlohmann::json args = nlohmann::json::array();
    for (const auto& argument : arguments) args.push_back(zq::parse_cli_argument(argument));
    task.args = zq::pack_json(args);
    // Made here rather than by the client so that every message, even a failure, names it.
    if (task.id.empty()) task.id = zq::new_job_id();

    const auto started = std::chrono::steady_clock::now();
    const Milliseconds budget =
        to_milliseconds(timeout_seconds.value_or(wait ? kDefaultWaitSeconds : kDefaultRequestSeconds));
    // With --wait a missing node is still reported after a few seconds, not after the whole wait.
    const Milliseconds accept_timeout = wait ? std::min(budget, zq::kDefaultTimeout) : budget;

    auto credentials = zq::load_credentials(key_dir, server_key);
    if (!credentials) return print.error(credentials.failure(), task.id);
    zq::Client client(node, *credentials);
    auto submitted = broadcast ? client.broadcast(task, accept_timeout) : client.submit(task, accept_timeout);
    if (!submitted) return print.error(submitted.failure(), task.id);
    if (submitted->duplicate) print.note("job " + task.id + " was already submitted: nothing new runs");
    if (!submitted->dedup.empty()) {
        print.note("job " + task.id + " was dropped: duplicate of " + submitted->dedup + " (same key)");
    }

    if (!wait) {
        zq::JobInfo job;
        job.id = submitted->id;
        job.task = task.name;
        job.state = submitted->state;
        job.node = submitted->node;
        if (json) {
            nlohmann::json extra = {{"duplicate", submitted->duplicate}};
            if (!submitted->dedup.empty()) extra["dedup"] = submitted->dedup;
            print.job(job, extra);
        } else {
            print.line(submitted->id);
        }
        return exit_success;
    }

    const auto spent = std::chrono::duration_cast<Milliseconds>(std::chrono::steady_clock::now() - started);
    const Milliseconds left = std::max(Milliseconds(1), budget - spent);
    auto job = client.wait(submitted->id, left);
    if (!job) return print.error(job.failure(), submitted->id);
    if (job->task.empty()) job->task = task.name;
    return report_outcome(print, *job, broadcast, submitted->duplicate);
}

}  // namespace

int main(int argc, char** argv) {
    try {
        const CommandLine line = split_command_line(std::vector<std::string>(argv + 1, argv + argc));
        if (is_job_command_line(line)) return run_job_command(argc, argv);
        if (!line.marker_first && !line.positionals.empty() && line.positionals[0] == "workflow") {
            return zq::send::run_workflow_command(argc, argv);
        }
        if (auto refusal = ambiguous_job_command(line)) {
            std::cerr << "zq-send: " << *refusal << std::endl;
            return exit_usage;
        }
        return run_submit(argv[0], line);
    } catch (const std::exception& error) {
        std::cerr << "zq-send: " << error.what() << std::endl;
        return exit_failed;
    }
}
