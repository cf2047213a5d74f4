#include "workflow_command.hpp"

#include "key_options.hpp"

#include <zq/client.hpp>
#include <zq/json.hpp>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>

namespace zq::send {
namespace {

using Milliseconds = std::chrono::milliseconds;

// The exit codes of zq-send (main.cpp).
constexpr int kSuccess = 0;
constexpr int kFailed = 1;
constexpr int kUsage = 2;
constexpr int kUnreachable = 3;
constexpr double kDefaultWaitSeconds = 30;
constexpr double kDefaultRequestSeconds = 5;

std::optional<std::string> read_text(const std::string& path) {
    if (path == "-") return std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    std::ifstream file(path);
    if (!file) return std::nullopt;
    std::stringstream text;
    text << file.rdbuf();
    return text.str();
}

int exit_code_of(const zq::Error& error) {
    return error.code == zq::ErrorCode::unreachable || error.code == zq::ErrorCode::timed_out ? kUnreachable
                                                                                                : kFailed;
}

}  // namespace

int run_workflow_command(int argc, char** argv) {
    CLI::App app{"Submit a workflow (chain, group, chord) described in JSON; with --wait, wait for its end.",
                 "zq-send workflow"};
    std::string word, file, node, id;
    bool wait = false, json = false;
    std::optional<double> timeout_seconds;
    app.add_option("COMMAND", word)->required()->check(CLI::IsMember({"workflow"}));
    app.add_option("FILE", file, "the workflow as JSON, or - for stdin")->required();
    app.add_option("--node", node, "zq-node endpoint ($ZQ_NODE, else the default data directory's socket)");
    std::string key_dir, server_key;
    zq::send::add_key_options(app, key_dir, server_key, true);
    app.add_option("--id", id, "workflow id (default: a new UUIDv7); resubmitting an id runs nothing new");
    app.add_flag("--wait", wait, "wait for the workflow to end and print its outcome");
    app.add_flag("--json", json, "print one JSON object: {id, state, result, error, steps, ...}");
    app.add_option("--timeout", timeout_seconds, "with --wait, the most seconds to wait (default 30)");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& error) {
        const int code = app.exit(error);
        return code == 0 ? kSuccess : kUsage;
    }
    auto text = read_text(file);
    if (!text) {
        std::cerr << "zq-send: cannot read " << file << std::endl;
        return kUsage;
    }
    nlohmann::json flow = nlohmann::json::parse(*text, nullptr, false);
    if (flow.is_discarded() || !flow.is_object()) {
        std::cerr << "zq-send: " << file << " is not a JSON object (a workflow is {\"chain\": [...]}, "
                  << "{\"group\": [...]}, {\"chord\": {...}} or a step {\"task\": ...})" << std::endl;
        return kUsage;
    }
    if (id.empty()) id = zq::new_job_id();

    // The flow goes to the node key for key; the builders' Flow is for C++ callers.
    const std::string packed = zq::pack_json(flow);
    const auto budget = Milliseconds(
        static_cast<std::int64_t>(1000 * timeout_seconds.value_or(wait ? kDefaultWaitSeconds : kDefaultRequestSeconds)));
    const auto started = std::chrono::steady_clock::now();
    auto credentials = zq::load_credentials(key_dir, server_key);
    if (!credentials) {
        std::cerr << "zq-send: " << credentials.error() << std::endl;
        return kUsage;
    }
    zq::Client client(node, *credentials);
    auto submitted = client.submit_workflow_packed(packed, id, std::min(budget, zq::kDefaultTimeout));
    if (!submitted) {
        if (json) {
            std::cout << zq::dump_json({{"id", id}, {"state", "rejected"}, {"error", submitted.error()}}) << std::endl;
        }
        std::cerr << "zq-send: " << submitted.error() << std::endl;
        return exit_code_of(submitted.failure());
    }
    if (!wait) {
        if (json) {
            std::cout << zq::dump_json({{"id", id}, {"state", std::string(zq::to_string(submitted->state))},
                                        {"duplicate", submitted->duplicate}})
                      << std::endl;
        } else {
            std::cout << id << std::endl;
        }
        return kSuccess;
    }
    const auto spent = std::chrono::duration_cast<Milliseconds>(std::chrono::steady_clock::now() - started);
    auto job = client.wait(id, std::max(Milliseconds(1), budget - spent));
    if (!job) {
        std::cerr << "zq-send: " << job.error() << std::endl;
        return exit_code_of(job.failure());
    }
    // The STATE of a workflow lists its steps; a workflow that had ended before the wait is
    // read with its steps from the node's status.
    if (job->steps.empty()) {
        if (auto status = client.status(id)) job = std::move(status);
    }
    if (json) {
        std::cout << zq::dump_json(zq::to_json(*job)) << std::endl;
    } else {
        std::cout << id << " " << zq::to_string(job->state);
        if (job->succeeded()) std::cout << ": " << zq::dump_json(zq::packed_to_json(job->result));
        if (!job->error.empty()) std::cout << ": " << job->error;
        std::cout << std::endl;
        for (const zq::StepInfo& step : job->steps) {
            std::cout << "  " << step.step << "  " << step.id << "  " << step.task << "  " << zq::to_string(step.state)
                      << (step.node.empty() ? "" : "  on " + step.node) << std::endl;
        }
    }
    if (!job->terminal()) return kUnreachable;
    return job->succeeded() ? kSuccess : kFailed;
}

}  // namespace zq::send
