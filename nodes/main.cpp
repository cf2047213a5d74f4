// zq-node: the daemon (`run`) and its operator commands (`status`, `running`, `reload`).
//
//   zq-node run [--config FILE] [--name NAME] [--data DIR] [--bind ENDPOINT]... [--peer-bind ENDPOINT]...
//               [--peer ENDPOINT]...
//               [--queues Q1,Q2] [--min-workers N] [--max-workers N] [--worker "CMD ARG..."]
//   zq-node status|running|peers|reload|schedules [--node ENDPOINT] [--json]
//   zq-node trace on|off [--node ENDPOINT] [--json]
#include "config.hpp"
#include "node.hpp"

#include <zq/client.hpp>
#include <zq/defaults.hpp>
#include <zq/json.hpp>

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <sqlite3.h>

#include <csignal>
#include <cstdio>
#include <iostream>
#include <sstream>

namespace {

using zq::node::Config;

// Exit codes shared with zq-send: 2 bad usage, 3 node unreachable.
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;
constexpr int kExitUnreachable = 3;

struct RunOptions {
    std::string config_file;
    std::string name;
    std::string data_dir;
    std::vector<std::string> binds;
    std::vector<std::string> peer_binds;
    std::vector<std::string> peers;
    std::string queues;
    unsigned min_workers = 0;
    unsigned max_workers = 0;
    std::string worker;
    std::string log_level;
    bool trace = false;
    std::uint64_t test_drop_broadcast = 0;
};

std::vector<std::string> split_commas(const std::string& text) {
    std::vector<std::string> items;
    std::stringstream stream(text);
    for (std::string item; std::getline(stream, item, ',');) {
        if (!item.empty()) items.push_back(item);
    }
    return items;
}

// Embedded defaults, then the config file, then the command line.
zq::Result<Config> build_config(const RunOptions& options) {
    Config config;
    if (!options.config_file.empty()) {
        if (auto loaded = zq::node::load_config_file(options.config_file, config); !loaded) {
            return zq::Error{loaded.error()};
        }
    }
    if (!options.name.empty()) config.name = options.name;
    if (!options.data_dir.empty()) config.data_dir = options.data_dir;
    config.binds.insert(config.binds.end(), options.binds.begin(), options.binds.end());
    config.peer_binds.insert(config.peer_binds.end(), options.peer_binds.begin(), options.peer_binds.end());
    config.peers.insert(config.peers.end(), options.peers.begin(), options.peers.end());
    if (!options.queues.empty()) config.queues = split_commas(options.queues);
    if (options.min_workers) config.min_workers = options.min_workers;
    if (options.max_workers) config.max_workers = options.max_workers;
    if (!options.worker.empty()) config.worker_command = zq::node::split_command(options.worker);
    if (!options.log_level.empty()) config.log_level = options.log_level;
    if (options.trace) config.trace = true;
    if (options.test_drop_broadcast) config.test_drop_broadcast = options.test_drop_broadcast;
    if (auto finished = zq::node::finish_config(config); !finished) return zq::Error{finished.error()};
    return config;
}

int run_node(const RunOptions& options) {
    auto config = build_config(options);
    if (!config) {
        std::fprintf(stderr, "zq-node: %s\n", config.error().c_str());
        return kExitUsage;
    }
    spdlog::set_default_logger(spdlog::stderr_color_mt("zq-node"));
    spdlog::set_level(spdlog::level::from_str(config->log_level));
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [" + config->name + "] %v");
    // A worker that dies mid-write must not take the node with it.
    std::signal(SIGPIPE, SIG_IGN);
    // SQLite's memory statistics take a global mutex on every allocation; the node is
    // single-threaded and never reads them.
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    zq::node::Node node(std::move(*config));
    if (auto started = node.start(); !started) {
        spdlog::error("cannot start: {}", started.error());
        return kExitFailed;
    }
    return node.run();
}

std::string megabytes(std::uint64_t bytes) {
    char text[32];
    std::snprintf(text, sizeof text, "%.1fMB", static_cast<double>(bytes) / (1024.0 * 1024.0));
    return text;
}

void print_status(const nlohmann::json& status) {
    std::printf("node %s incarnation %s pid %d\n", status["name"].get<std::string>().c_str(),
                status["incarnation"].get<std::string>().c_str(), status["pid"].get<int>());
    const auto& pool = status["pool"];
    std::printf("pool size=%d min=%d max=%d busy=%d\n", pool["size"].get<int>(), pool["min"].get<int>(),
                pool["max"].get<int>(), pool["busy"].get<int>());
    for (const auto& worker : status["workers"]) {
        std::printf("worker[pid:%d] sent=%llu finished=%llu qsize=%llu rss=%s", worker["pid"].get<int>(),
                    worker["sent"].get<unsigned long long>(), worker["finished"].get<unsigned long long>(),
                    worker["qsize"].get<unsigned long long>(), megabytes(worker["rss"].get<std::uint64_t>()).c_str());
        if (worker["task"].is_object()) {
            std::printf(" running %s %s\n", worker["task"]["id"].get<std::string>().c_str(),
                        worker["task"]["name"].get<std::string>().c_str());
        } else {
            std::printf(" idle\n");
        }
    }
    std::printf("jobs");
    for (const auto& [state, count] : status["jobs"].items()) {
        std::printf(" %s=%llu", state.c_str(), count.get<unsigned long long>());
    }
    std::printf("\n");
    for (const auto& job : status["waiting"]) {
        std::printf("waiting %s: %s\n", job["id"].get<std::string>().c_str(), job["reason"].get<std::string>().c_str());
    }
    // A node of an older zq says nothing of its capacity.
    if (status.contains("capacity")) {
        const auto& capacity = status["capacity"];
        std::printf("capacity units=%llu in_use=%llu on_workers=%llu\n", capacity["units"].get<unsigned long long>(),
                    capacity["in_use"].get<unsigned long long>(), capacity["on_workers"].get<unsigned long long>());
        for (const auto& job : status["held"]) {
            std::printf("held %s: %s\n", job["id"].get<std::string>().c_str(), job["reason"].get<std::string>().c_str());
        }
    }
    const auto& fanout = status["fanout"];
    std::printf("fanout %s trace=%s published broadcast=%llu event=%llu tap=%llu\n",
                fanout["endpoint"].get<std::string>().c_str(), fanout["trace"].get<bool>() ? "on" : "off",
                fanout["published"]["broadcast"].get<unsigned long long>(),
                fanout["published"]["event"].get<unsigned long long>(),
                fanout["published"]["tap"].get<unsigned long long>());
    for (const auto& [node, counts] : fanout["publishers"].items()) {
        std::printf("broadcasts from %s: received=%llu repaired=%llu lost=%llu missing=%llu\n", node.c_str(),
                    counts["received"].get<unsigned long long>(), counts["repaired"].get<unsigned long long>(),
                    counts["lost"].get<unsigned long long>(), counts["missing"].get<unsigned long long>());
    }
}

void print_peers(const nlohmann::json& peers) {
    for (const auto& peer : peers) {
        std::string heard = "never";
        if (!peer["last_heard"].is_null()) heard = std::to_string(peer["last_heard"].get<double>()).append("s ago");
        std::string queues;
        for (const auto& queue : peer["queues"]) {
            if (!queues.empty()) queues += ',';
            queues += queue.get<std::string>();
        }
        std::printf("%s %s %s heard=%s capacity=%llu queues=%s incarnation=%s\n",
                    peer["name"].get<std::string>().c_str(), peer["endpoint"].get<std::string>().c_str(),
                    peer["state"].get<std::string>().c_str(), heard.c_str(),
                    peer["capacity"].get<unsigned long long>(), queues.c_str(),
                    peer["incarnation"].get<std::string>().c_str());
    }
}

// One line per schedule: name, scope, timing, next and last tick, last job, its state and node.
void print_schedules(const nlohmann::json& schedules) {
    auto text = [](const nlohmann::json& value) {
        return value.is_null() ? std::string("-") : value.get<std::string>();
    };
    for (const auto& schedule : schedules) {
        std::string timing = schedule["every"].is_null()
                                 ? "cron=\"" + text(schedule["cron"]) + "\" timezone=" + text(schedule["timezone"])
                                 : "every=" + text(schedule["every"]);
        std::printf("%s %s %s task=%s next=%s last=%s job=%s state=%s node=%s\n", text(schedule["name"]).c_str(),
                    text(schedule["scope"]).c_str(), timing.c_str(), text(schedule["task"]).c_str(),
                    text(schedule["next_tick"]).c_str(), text(schedule["last_tick"]).c_str(),
                    text(schedule["last_job_id"]).c_str(), text(schedule["last_job_state"]).c_str(),
                    text(schedule["last_job_node"]).c_str());
    }
}

int run_operator_command(const std::string& operation, const std::string& endpoint, bool json) {
    zq::Client client(endpoint);
    auto reply = client.control(operation);
    if (!reply) {
        std::fprintf(stderr, "zq-node %s: %s\n", operation.c_str(), reply.error().c_str());
        return reply.error_code() == zq::ErrorCode::unreachable ? kExitUnreachable : kExitFailed;
    }
    nlohmann::json data = zq::packed_to_json(*reply);
    if (json) {
        std::printf("%s\n", data.dump().c_str());
    } else if (operation == "status") {
        print_status(data);
    } else if (operation == "running") {
        for (const auto& id : data) std::printf("%s\n", id.get<std::string>().c_str());
    } else if (operation == "peers") {
        print_peers(data);
    } else if (operation == "schedules") {
        print_schedules(data);
    } else if (operation.starts_with("trace")) {
        std::printf("trace %s\n", data["trace"].get<bool>() ? "on" : "off");
    } else {
        std::printf("%s: ok\n", operation.c_str());
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"zq-node: the zq daemon, one per host"};
    app.require_subcommand(1);

    RunOptions options;
    CLI::App* run = app.add_subcommand("run", "run a node in the foreground");
    run->add_option("--config", options.config_file, "TOML config file")->check(CLI::ExistingFile);
    run->add_option("--name", options.name, "node name (default: the host name)");
    run->add_option("--data", options.data_dir, "data directory (default: $ZQ_DATA or ~/.local/state/zq)");
    run->add_option("--bind", options.binds, "extra client endpoint, e.g. tcp://127.0.0.1:7700 (repeatable)");
    run->add_option("--peer-bind", options.peer_binds,
                    "peer endpoint, e.g. tcp://127.0.0.1:7701 (repeatable; default: each tcp --bind's port + 1)");
    run->add_option("--peer", options.peers, "peer node endpoint: its peer port, or its client port (repeatable)");
    run->add_option("--queues", options.queues, "queues served, comma separated (default: default)");
    run->add_option("--min-workers", options.min_workers, "workers kept running (default 4)");
    run->add_option("--max-workers", options.max_workers, "pool ceiling (default 4 x cores, at least 8)");
    run->add_option("--worker", options.worker, "worker command, split on spaces (default: zq-worker)");
    run->add_option("--log-level", options.log_level, "trace, debug, info, warn, error");
    run->add_flag("--trace", options.trace, "start with the protocol tap on (see zq-node trace)");
    // For tests of gap repair: publishes broadcast number N to nobody, as if PUB/SUB had lost it.
    run->add_option("--test-drop-broadcast", options.test_drop_broadcast)->group("");

    std::string endpoint = zq::default_node_endpoint();
    bool json = false;
    std::string operation;
    for (const char* name : {"status", "running", "peers", "reload", "schedules"}) {
        CLI::App* command = app.add_subcommand(name, std::string("ask a running node: ") + name);
        command->add_option("--node", endpoint, "node endpoint (default: $ZQ_NODE or the local node)");
        command->add_flag("--json", json, "one JSON object on stdout");
        command->callback([&operation, name] { operation = name; });
    }
    std::string trace_switch;
    CLI::App* trace = app.add_subcommand("trace", "turn a running node's protocol tap on or off (see zq-trace)");
    trace->add_option("SWITCH", trace_switch, "on or off")->required()->check(CLI::IsMember({"on", "off"}));
    trace->add_option("--node", endpoint, "node endpoint (default: $ZQ_NODE or the local node)");
    trace->add_flag("--json", json, "one JSON object on stdout");
    trace->callback([&operation, &trace_switch] { operation = "trace-" + trace_switch; });

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& error) {
        int code = app.exit(error);
        return code == 0 ? 0 : kExitUsage;
    }
    if (run->parsed()) return run_node(options);
    return run_operator_command(operation, endpoint, json);
}
