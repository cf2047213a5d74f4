// zq-bench: the throughput and round-trip latency of one zq-node, as anyone can rerun them.
//
//   zq-bench [--node ENDPOINT] [-n N] [--window W] [--round-trips R] [--task NAME] [--json]
//   zq-bench --broadcast [--node ENDPOINT] [-n N] [--task NAME] [--json]
//   zq-bench --null-node [-n N] [--window W] [--round-trips R] [--task NAME] [--json]
//
// Phase 1, throughput: N submissions of TASK with watch set, at most W in flight; a task
// counts as done when its STATE arrives, and tasks/s is N over the time from the first
// submission to the last STATE. Phase 2, latency: min(N, --round-trips) sequential round trips, each
// a submission followed by its STATE; p50 and p99 in milliseconds.
//
// With --broadcast, only latency: min(N, --round-trips) broadcasts one after the other, each timed
// from the call to Client::broadcast until Client::wait returns with every node's outcome.
//
// With --null-node, the same two phases against a stand-in for zq-node in a thread of this
// process (null_node.hpp), which runs nothing and answers each SUBMIT at once with ACCEPTED and
// STATE succeeded. The figures are then the ceiling of zq::Client and zq-bench themselves, so a
// node's figures can be read against what the client side alone can do.
//
// Exit codes: 0 every task succeeded; 1 some task failed or was rejected (they are counted and
// the first reason is shown); 2 bad usage (including a malformed endpoint); 3 the node did not
// answer.
#include "null_node.hpp"

#include <zq/client.hpp>
#include <zq/defaults.hpp>
#include <zq/json.hpp>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <variant>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

enum ExitCode : int { exit_success = 0, exit_failed = 1, exit_usage = 2, exit_unreachable = 3 };

// How long to wait for the next reply before deciding the node is stuck.
constexpr zq::Milliseconds kReplyTimeout{30000};

struct Options {
    std::string node = zq::default_node_endpoint();
    std::size_t tasks = 10000;
    std::size_t window = 1000;
    std::string task = "zq.noop";
    bool json = false;
    bool broadcast = false;
    bool null_node = false;
    std::size_t round_trips = 2000;  // the latency phase's samples at most; 0 skips it
    // Throughput phase: task i gets the key "bench-key-(i mod keys)" with this policy (0: none).
    std::size_t keys = 0;
    std::string on_duplicate = "serial";
    // CURVE credentials for a tcp node with keys: this client's pair and the node's public key.
    std::string key_dir;
    std::string server_key;
};

// Tasks that did not succeed, with the first reason seen.
struct Failures {
    std::size_t count = 0;
    std::string first;

    void add(const std::string& id, const std::string& why) {
        if (count++ == 0) first = "job " + id + ": " + why;
    }
};

struct Throughput {
    double seconds = 0;
    double tasks_per_second = 0;
};

struct Latency {
    std::size_t samples = 0;
    double p50_ms = 0;
    double p99_ms = 0;
    double max_ms = 0;
};

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

// Nearest-rank percentile of sorted values.
double percentile(const std::vector<double>& sorted, double fraction) {
    if (sorted.empty()) return 0;
    const auto rank = static_cast<std::size_t>(std::ceil(fraction * static_cast<double>(sorted.size())));
    return sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1];
}

std::string describe_failure(const zq::JobInfo& job) {
    return std::string(zq::to_string(job.state)) + (job.error.empty() ? std::string() : ": " + job.error);
}

// Phase 1: keeps up to `window` submissions in flight until every task has its STATE.
zq::Result<Throughput> measure_throughput(zq::Client& client, const Options& options, Failures& failures) {
    zq::Task task(options.task);
    std::size_t posted = 0;
    std::size_t finished = 0;
    std::size_t in_flight = 0;
    const auto started = Clock::now();
    while (finished < options.tasks) {
        while (in_flight < options.window && posted < options.tasks) {
            if (options.keys > 0) {
                task.unique_key = "bench-key-" + std::to_string(posted % options.keys);
                task.unique_policy = options.on_duplicate;
            }
            if (auto sent = client.post(task, true); !sent) return sent.failure();
            ++posted;
            ++in_flight;
        }
        auto reply = client.next_reply(kReplyTimeout);
        if (!reply) return reply.failure();
        if (const auto* rejected = std::get_if<zq::Rejected>(&*reply)) {
            failures.add(rejected->id, "rejected: " + rejected->reason);
            ++finished;
            --in_flight;
        } else if (const auto* report = std::get_if<zq::StateReport>(&*reply); report && report->job.terminal()) {
            if (!report->job.succeeded()) failures.add(report->job.id, describe_failure(report->job));
            ++finished;
            --in_flight;
        }
    }
    Throughput result;
    result.seconds = seconds_since(started);
    result.tasks_per_second = result.seconds > 0 ? static_cast<double>(options.tasks) / result.seconds : 0;
    return result;
}

// Phase 2: one task at a time, from submission to its STATE.
zq::Result<Latency> measure_latency(zq::Client& client, const Options& options, Failures& failures) {
    const std::size_t rounds = std::min(options.tasks, options.round_trips);
    std::vector<double> milliseconds;
    milliseconds.reserve(rounds);
    for (std::size_t round = 0; round < rounds; ++round) {
        zq::Task task(options.task);
        task.id = zq::new_job_id();
        const auto started = Clock::now();
        if (auto sent = client.post(task, true); !sent) return sent.failure();
        for (bool done = false; !done;) {
            auto reply = client.next_reply(kReplyTimeout);
            if (!reply) return reply.failure();
            if (const auto* rejected = std::get_if<zq::Rejected>(&*reply)) {
                if (rejected->id.empty() || rejected->id == task.id) {
                    failures.add(task.id, "rejected: " + rejected->reason);
                    done = true;
                }
            } else if (const auto* report = std::get_if<zq::StateReport>(&*reply)) {
                if (report->job.id == task.id && report->job.terminal()) {
                    if (report->job.succeeded()) {
                        milliseconds.push_back(seconds_since(started) * 1000.0);
                    } else {
                        failures.add(task.id, describe_failure(report->job));
                    }
                    done = true;
                }
            }
        }
    }
    std::sort(milliseconds.begin(), milliseconds.end());
    Latency result;
    result.samples = milliseconds.size();
    result.p50_ms = percentile(milliseconds, 0.50);
    result.p99_ms = percentile(milliseconds, 0.99);
    result.max_ms = milliseconds.empty() ? 0 : milliseconds.back();
    return result;
}

// --broadcast: one broadcast at a time, through the public API, until every node reported.
zq::Result<Latency> measure_broadcasts(zq::Client& client, const Options& options, Failures& failures) {
    const std::size_t rounds = std::min(options.tasks, options.round_trips);
    std::vector<double> milliseconds;
    for (std::size_t round = 0; round < rounds; ++round) {
        const auto started = Clock::now();
        auto submitted = client.broadcast(zq::Task(options.task));
        if (!submitted) return submitted.failure();
        auto job = client.wait(submitted->id, kReplyTimeout);
        if (!job) return job.failure();
        if (!job->succeeded()) {
            failures.add(job->id, describe_failure(*job));
            continue;
        }
        milliseconds.push_back(seconds_since(started) * 1000.0);
    }
    std::sort(milliseconds.begin(), milliseconds.end());
    return Latency{milliseconds.size(), percentile(milliseconds, 0.50), percentile(milliseconds, 0.99),
                   milliseconds.empty() ? 0 : milliseconds.back()};
}

int report_broadcasts(const Latency& latency, const Failures& failures, double seconds, const Options& options) {
    if (options.json) {
        nlohmann::json summary = {{"node", options.node},     {"task", options.task},
                                  {"broadcasts", latency.samples + failures.count},
                                  {"seconds", seconds},       {"broadcasts_per_s", static_cast<double>(latency.samples) / seconds},
                                  {"p50_ms", latency.p50_ms}, {"p99_ms", latency.p99_ms},
                                  {"max_ms", latency.max_ms}, {"failed", failures.count}};
        if (failures.count > 0) summary["first_failure"] = failures.first;
        std::cout << zq::dump_json(summary) << std::endl;
    } else {
        std::printf("zq-bench: broadcast %s from %s\n", options.task.c_str(), options.node.c_str());
        std::printf("latency:    %zu broadcasts, each until every node reported: p50 %.3f ms, p99 %.3f ms, max %.3f ms\n",
                    latency.samples, latency.p50_ms, latency.p99_ms, latency.max_ms);
        std::printf("failed:     %zu%s%s\n", failures.count, failures.count > 0 ? ", first: " : "",
                    failures.first.c_str());
    }
    return failures.count > 0 ? exit_failed : exit_success;
}

int report_error(const zq::Error& error, const Options& options) {
    std::cerr << "zq-bench: " << error.message << std::endl;
    if (options.json) {
        std::cout << zq::dump_json({{"error", error.message}, {"node", options.node}, {"task", options.task}})
                  << std::endl;
    }
    if (error.code == zq::ErrorCode::unreachable || error.code == zq::ErrorCode::timed_out) return exit_unreachable;
    return error.code == zq::ErrorCode::bad_input ? exit_usage : exit_failed;
}

}  // namespace

int main(int argc, char** argv) {
    Options options;
    CLI::App app{"Measure a zq-node's throughput (many tasks in flight) and round-trip latency (one at a time).",
                 "zq-bench"};
    auto* node_option =
        app.add_option("--node", options.node, "zq-node endpoint ($ZQ_NODE, else the default data directory's socket)")
            ->capture_default_str();
    app.add_option("--key", options.key_dir, "this client's CURVE key pair, for a tcp node with keys");
    app.add_option("--server-key", options.server_key, "the node's public key file (its public.key), with --key");
    app.add_option("-n", options.tasks, "tasks in the throughput phase")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    app.add_option("--window", options.window, "submissions in flight at once in the throughput phase")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    app.add_option("--task", options.task, "task to run")->capture_default_str();
    app.add_option("--keys", options.keys,
                   "throughput phase: spread the tasks over N keys (bench-key-0...), with --on-duplicate")
        ->capture_default_str();
    app.add_option("--on-duplicate", options.on_duplicate, "the keys' policy: parallel, discard, serial, queue_one")
        ->check(CLI::IsMember({"parallel", "discard", "serial", "queue_one"}))
        ->capture_default_str();
    app.add_option("--round-trips", options.round_trips,
                   "most round trips in the latency phase (it runs min(N, this)); 0 skips the phase")
        ->capture_default_str();
    auto* broadcast_flag =
        app.add_flag("--broadcast", options.broadcast,
                     "time broadcasts instead (one at a time, until every node reported): broadcasts, seconds, "
                     "broadcasts_per_s, p50_ms, p99_ms, max_ms, failed");
    app.add_flag("--null-node", options.null_node,
                 "measure the client side alone: run against a node in this process that runs nothing and "
                 "answers each submission at once")
        ->excludes(node_option)
        ->excludes(broadcast_flag);
    app.add_flag("--json", options.json,
                 "print one JSON object: tasks, seconds, tasks_per_s, window, latency_samples, p50_ms, p99_ms, "
                 "failed");
    app.footer("Exit codes: 0 every task succeeded; 1 some failed or were rejected; 2 bad usage; "
               "3 the node did not answer.");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& error) {
        return app.exit(error) == 0 ? exit_success : exit_usage;
    }

    try {
        std::unique_ptr<zq::bench::NullNode> null_node;
        if (options.null_node) {
            auto started = zq::bench::NullNode::start();
            if (!started) return report_error(started.failure(), options);
            null_node = std::move(*started);
            options.node = null_node->endpoint();
        }
        auto credentials = zq::load_credentials(options.key_dir, options.server_key);
        if (!credentials) return report_error(credentials.failure(), options);
        zq::Client client(options.node, *credentials);
        // One request first: it tells a missing node apart quickly and opens the connection
        // before the clock starts. A node that refuses "status" is still benchmarked.
        if (auto status = client.control("status"); !status && status.error_code() != zq::ErrorCode::failed) {
            return report_error(status.failure(), options);
        }

        Failures failures;
        if (options.broadcast) {
            const auto started = Clock::now();
            auto latency = measure_broadcasts(client, options, failures);
            if (!latency) return report_error(latency.failure(), options);
            return report_broadcasts(*latency, failures, seconds_since(started), options);
        }
        auto throughput = measure_throughput(client, options, failures);
        if (!throughput) return report_error(throughput.failure(), options);
        auto latency = measure_latency(client, options, failures);
        if (!latency) return report_error(latency.failure(), options);

        if (options.json) {
            nlohmann::json summary = {
                {"node", options.node},
                {"task", options.task},
                {"tasks", options.tasks},
                {"seconds", throughput->seconds},
                {"tasks_per_s", throughput->tasks_per_second},
                {"window", options.window},
                {"latency_samples", latency->samples},
                {"p50_ms", latency->p50_ms},
                {"p99_ms", latency->p99_ms},
                {"max_ms", latency->max_ms},
                {"failed", failures.count},
            };
            if (options.null_node) summary["null_node"] = true;
            if (failures.count > 0) summary["first_failure"] = failures.first;
            std::cout << zq::dump_json(summary) << std::endl;
        } else {
            std::printf("zq-bench: %s on %s%s\n", options.task.c_str(), options.null_node ? "a null node at " : "",
                        options.node.c_str());
            std::printf("throughput: %zu tasks in %.3f s = %.0f tasks/s (window %zu)\n", options.tasks,
                        throughput->seconds, throughput->tasks_per_second, options.window);
            std::printf("latency:    %zu round trips: p50 %.3f ms, p99 %.3f ms, max %.3f ms\n", latency->samples,
                        latency->p50_ms, latency->p99_ms, latency->max_ms);
            std::printf("failed:     %zu%s%s\n", failures.count, failures.count > 0 ? ", first: " : "",
                        failures.first.c_str());
        }
        return failures.count > 0 ? exit_failed : exit_success;
    } catch (const std::exception& error) {
        std::cerr << "zq-bench: " << error.what() << std::endl;
        return exit_failed;
    }
}
