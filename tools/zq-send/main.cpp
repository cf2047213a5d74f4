// zq-send: submit a task to the local zq-node, or look at and cancel a job.
//
//   zq-send [--node ENDPOINT] [--queue Q] [--target NODE] [--wait] [--timeout SEC] [--json]
//           [--priority N] [--id ID] [--soft-limit SEC] [--hard-limit SEC] TASK [ARG...]
//   zq-send status|result|cancel ID [--node ENDPOINT | --data DIR] [--timeout SEC] [--json]
//
// `--data DIR` names the node by its data directory (its socket is ipc://DIR/node.sock).
// With `cancel`, it also works while that node is down: the cancel is written to the node's
// journal and the node cancels the job when it starts (see journal_cancel.hpp).
//
// The two forms share their first word: a first positional argument of status, result or
// cancel followed by exactly one job-id-like argument (letters, digits, '.', '_', ':', '-')
// is a job command; anything else is a task. To submit a task that is literally called
// "status" with one id-like argument, put "--" before it or give any submit-only option
// (--queue, --wait...).
//
// Exit codes, the same for every form: 0 success; 1 the job failed, ended in error or was
// canceled, the node rejected the task, or there is no such job; 2 bad usage; 3 the node did
// not answer, or the awaited outcome did not come in time (`result` of a job that has not
// finished yet exits 3 too: ask again later).
#include "journal_cancel.hpp"

#include <zq/client.hpp>
#include <zq/defaults.hpp>
#include <zq/json.hpp>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <array>
#include <chrono>
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
    exit_failed = 1,        // failed, error or canceled job; REJECTED; no such job
    exit_usage = 2,         // bad command line
    exit_unreachable = 3,   // no answer from the node, or the wait timed out
};

// Without --timeout: how long the node has to answer a request, and how long --wait waits.
constexpr double kDefaultRequestSeconds = 5.0;
constexpr double kDefaultWaitSeconds = 30.0;

constexpr std::array<std::string_view, 3> kJobCommands = {"status", "result", "cancel"};

// Options that take a value (so the word after them is not a positional argument) and
// options that only make sense when submitting (so their presence means a task follows).
constexpr std::array<std::string_view, 9> kValueOptions = {"--node",     "--data",     "--queue",
                                                           "--target",   "--timeout",  "--priority",
                                                           "--id",       "--soft-limit", "--hard-limit"};
constexpr std::array<std::string_view, 8> kSubmitOnlyOptions = {
    "--queue", "--target", "--wait", "--priority", "--id", "--soft-limit", "--hard-limit", "--broadcast"};

const char* const kExitCodesHelp =
    "Exit codes: 0 success; 1 the job failed, ended in error or was canceled, the node rejected the\n"
    "task, or there is no such job; 2 bad usage; 3 the node did not answer, or the outcome did not\n"
    "come in time.";

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
    return Milliseconds(static_cast<std::int64_t>(seconds * 1000.0 + 0.5));
}

bool is_job_command(std::string_view word) {
    return std::find(kJobCommands.begin(), kJobCommands.end(), word) != kJobCommands.end();
}

bool looks_like_job_id(std::string_view text) {
    if (text.empty() || text.size() > 256 || text.front() == '-') return false;
    return std::all_of(text.begin(), text.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
               c == '_' || c == ':' || c == '-';
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
        if (std::find(kSubmitOnlyOptions.begin(), kSubmitOnlyOptions.end(), name) != kSubmitOnlyOptions.end()) {
            line.submit_only = true;
        }
        if (equals == std::string::npos && i + 1 < words.size() &&
            std::find(kValueOptions.begin(), kValueOptions.end(), name) != kValueOptions.end()) {
            line.options.push_back(words[++i]);  // the option's value
        }
    }
    return line;
}

// Whether the command line is `status|result|cancel ID` rather than a task submission.
bool is_job_command_line(const CommandLine& line) {
    return !line.submit_only && !line.marker_first && line.positionals.size() == 2 &&
           is_job_command(line.positionals[0]) && looks_like_job_id(line.positionals[1]);
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
    bool json_;
};

int job_exit_code(const zq::JobInfo& job) {
    if (!job.terminal()) return exit_unreachable;
    return job.succeeded() ? exit_success : exit_failed;
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
    CLI::App app{"Look at or cancel a job on zq-node.", "zq-send"};
    std::string command;
    std::string id;
    std::string node = zq::default_node_endpoint();
    std::string data_dir;
    double timeout_seconds = kDefaultRequestSeconds;
    bool json = false;
    app.add_option("COMMAND", command, "status: show the job; result: its outcome (exit 3 if not finished); "
                                       "cancel: cancel it")
        ->required()
        ->check(CLI::IsMember({"status", "result", "cancel"}));
    app.add_option("ID", id, "job id")->required();
    CLI::Option* node_option =
        app.add_option("--node", node, "zq-node endpoint ($ZQ_NODE, else the default data directory's socket)")
            ->capture_default_str();
    app.add_option("--data", data_dir,
                   "the node's data directory instead of --node (its socket is ipc://DIR/node.sock); with "
                   "cancel, when no node runs on DIR, the cancel is written to its journal and the node "
                   "cancels the job when it starts")
        ->excludes(node_option);
    app.add_option("--timeout", timeout_seconds, "seconds to wait for the node's answer")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    app.add_flag("--json", json, "print one JSON object: {id, task, state, result, error, node}");
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
    zq::Client client(node);
    const Milliseconds timeout = to_milliseconds(timeout_seconds);

    if (command == "status") {
        auto job = client.status(id, timeout);
        if (!job) return print.error(job.failure(), id);
        print.job(*job);
        return exit_success;
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
        ->check(CLI::PositiveNumber);
    app.add_flag("--json", json, "print one JSON object: {id, task, state, result, error, node, ...}");
    app.add_option("--priority", task.priority, "higher runs first")->capture_default_str();
    app.add_option("--id", task.id, "job id (default: a new UUIDv7); resubmitting an id runs nothing new");
    app.add_option("--soft-limit", task.soft_time_limit, "seconds before the task is asked to stop (SIGUSR1)")
        ->check(CLI::NonNegativeNumber);
    app.add_option("--hard-limit", task.hard_time_limit, "seconds before the task is killed (SIGKILL)")
        ->check(CLI::NonNegativeNumber);
    app.footer(std::string("Job commands:\n"
                           "  zq-send status ID  [--node ENDPOINT | --data DIR] [--json]   show the job\n"
                           "  zq-send result ID  [--node ENDPOINT | --data DIR] [--json]   its outcome; exit 3 if not finished\n"
                           "  zq-send cancel ID  [--node ENDPOINT | --data DIR] [--json]   cancel it\n"
                           "--data DIR names the node by its data directory. With it, cancel works while that node\n"
                           "is down too: the cancel is written to its journal and the job is canceled when the node\n"
                           "starts.\n"
                           "A first argument status, result or cancel followed by one job id is a job command;\n"
                           "to submit a task of that name, put -- before it.\n\n") +
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

    const Printer print(json);
    if (broadcast && !task.target.empty()) {
        std::cerr << "zq-send: --target does not go with --broadcast (a broadcast runs on every node)" << std::endl;
        return exit_usage;
    }
    task.name = task_name;
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

    zq::Client client(node);
    auto submitted = broadcast ? client.broadcast(task, accept_timeout) : client.submit(task, accept_timeout);
    if (!submitted) return print.error(submitted.failure(), task.id);
    if (submitted->duplicate) print.note("job " + task.id + " was already submitted: nothing new runs");

    if (!wait) {
        zq::JobInfo job;
        job.id = submitted->id;
        job.task = task.name;
        job.state = submitted->state;
        job.node = submitted->node;
        if (json) {
            print.job(job, {{"duplicate", submitted->duplicate}});
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
    if (broadcast) {
        print.broadcast(*job, {{"duplicate", submitted->duplicate}});
    } else {
        print.job(*job, {{"duplicate", submitted->duplicate}});
    }
    return job_exit_code(*job);
}

}  // namespace

int main(int argc, char** argv) {
    try {
        const CommandLine line = split_command_line(std::vector<std::string>(argv + 1, argv + argc));
        if (is_job_command_line(line)) return run_job_command(argc, argv);
        return run_submit(argv[0], line);
    } catch (const std::exception& error) {
        std::cerr << "zq-send: " << error.what() << std::endl;
        return exit_failed;
    }
}
