#include "config.hpp"

#include "config_reading.hpp"

#include <zq/defaults.hpp>
#include <zq/task.hpp>

#include <toml++/toml.h>

#include <limits.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <functional>
#include <span>
#include <sstream>
#include <thread>

namespace zq::node {
namespace {

std::string host_name() {
    char buffer[HOST_NAME_MAX + 1] = {};
    if (gethostname(buffer, sizeof buffer) != 0 || buffer[0] == '\0') return "node";
    return buffer;
}

// zq-worker is installed beside zq-node; fall back to PATH.
std::vector<std::string> default_worker_command() {
    std::error_code error;
    auto self = std::filesystem::read_symlink("/proc/self/exe", error);
    if (!error) {
        auto beside = self.parent_path() / "zq-worker";
        if (std::filesystem::exists(beside)) return {beside.string()};
    }
    return {"zq-worker"};
}

template <class T>
Status read_number(const toml::table& table, std::string_view key, T& out) {
    const toml::node* value = table.get(key);
    if (!value) return success();
    if (auto number = value->value<double>()) {
        if (*number < 0) return Error{"config key '" + std::string(key) + "' must not be negative"};
        out = static_cast<T>(*number);
        return success();
    }
    return Error{"config key '" + std::string(key) + "' must be a number"};
}

Status read_bool(const toml::table& table, std::string_view key, bool& out) {
    const toml::node* value = table.get(key);
    if (!value) return success();
    if (auto flag = value->value<bool>()) {
        out = *flag;
        return success();
    }
    return Error{"config key '" + std::string(key) + "' must be true or false"};
}

Status read_string(const toml::table& table, std::string_view key, std::string& out) {
    const toml::node* value = table.get(key);
    if (!value) return success();
    if (auto text = value->value<std::string>()) {
        out = *text;
        return success();
    }
    return Error{"config key '" + std::string(key) + "' must be a string"};
}

Status read_strings(const toml::table& table, std::string_view key, std::vector<std::string>& out) {
    const toml::node* value = table.get(key);
    if (!value) return success();
    const toml::array* array = value->as_array();
    if (!array) return Error{"config key '" + std::string(key) + "' must be an array of strings"};
    std::vector<std::string> items;
    for (const auto& item : *array) {
        auto text = item.value<std::string>();
        if (!text) return Error{"config key '" + std::string(key) + "' must be an array of strings"};
        items.push_back(*text);
    }
    out = std::move(items);
    return success();
}

}  // namespace

// Declared in config_reading.hpp: the schedules' reader uses it too.
Status for_each_section(const toml::table& root, std::string_view kind, std::span<const std::string_view> allowed,
                        const std::function<Status(std::string, const toml::table&, const std::string&)>& read) {
    const toml::node* sections = root.get(kind);
    if (!sections) return success();
    const toml::table* table = sections->as_table();
    std::string kind_text(kind);
    if (!table) return Error{"config key '" + kind_text + "' must be a table of [" + kind_text + ".NAME] sections"};
    std::string allowed_list;
    for (auto field : allowed) allowed_list += (allowed_list.empty() ? "" : ", ") + std::string(field);
    for (const auto& [name, section] : *table) {
        const toml::table* settings = section.as_table();
        std::string key = kind_text + "." + std::string(name.str());
        if (!settings) return Error{"config section [" + key + "] must be a table"};
        for (const auto& [field, value] : *settings) {
            if (std::find(allowed.begin(), allowed.end(), field.str()) == allowed.end()) {
                return Error{"[" + key + "]: unknown key '" + std::string(field.str()) + "' (" + allowed_list +
                             "; quote names with dots)"};
            }
        }
        if (auto done = read(std::string(name.str()), *settings, key); !done) return done;
    }
    return success();
}

namespace {

Status read_task_settings(const toml::table& root, Config& config) {
    static constexpr std::string_view kAllowed[] = {
        "command",      "soft_time_limit",   "hard_time_limit", "prefetch",
        "retries",      "retry_delay",       "retry_backoff",   "retry_backoff_max",
        "retry_jitter", "retry_on_worker_lost", "retry_exit_code",
        "on_duplicate", "key",           "key_concurrency", "weight", "exclusive",
    };
    return for_each_section(root, "tasks", kAllowed, [&](std::string name, const toml::table& task, const std::string& key) {
        TaskSettings settings;
        Status steps[] = {
            read_strings(task, "command", settings.command),
            read_number(task, "soft_time_limit", settings.soft_time_limit),
            read_number(task, "hard_time_limit", settings.hard_time_limit),
            read_number(task, "prefetch", settings.prefetch),
            read_number(task, "retries", settings.retries),
            read_number(task, "retry_delay", settings.retry_delay),
            read_number(task, "retry_backoff", settings.retry_backoff),
            read_number(task, "retry_backoff_max", settings.retry_backoff_max),
            read_bool(task, "retry_jitter", settings.retry_jitter),
            read_bool(task, "retry_on_worker_lost", settings.retry_on_worker_lost),
            read_number(task, "retry_exit_code", settings.retry_exit_code),
            read_string(task, "on_duplicate", settings.on_duplicate),
            read_string(task, "key", settings.key),
            read_number(task, "key_concurrency", settings.key_concurrency),
            read_number(task, "weight", settings.weight),
            read_bool(task, "exclusive", settings.exclusive),
        };
        for (auto& step : steps) {
            if (!step) return Status(Error{"[" + key + "]: " + step.error()});
        }
        if (task.contains("retry_exit_code") && (settings.retry_exit_code < 1 || settings.retry_exit_code > 255)) {
            return Status(Error{"[" + key + "] retry_exit_code must be an exit status between 1 and 255"});
        }
        if (task.contains("retry_exit_code") && !task.contains("command")) {
            return Status(Error{"[" + key + "] retry_exit_code applies to exec tasks only: add command = [...]"});
        }
        if (task.contains("on_duplicate") && settings.on_duplicate != "parallel" && settings.on_duplicate != "discard" &&
            settings.on_duplicate != "serial" && settings.on_duplicate != "queue_one") {
            return Status(Error{"[" + key + "] on_duplicate must be parallel, discard, serial or queue_one"});
        }
        if (task.contains("key") && settings.key.empty()) {
            return Status(Error{"[" + key + "] key must be a text, or \"task+args\""});
        }
        if (settings.retries > kMaxRetries) {
            return Status(Error{"[" + key + "] retries must be at most " + std::to_string(kMaxRetries)});
        }
        if (task.contains("command") && settings.command.empty()) {
            return Status(Error{"[" + key + "] command must name a program: command = [\"/path/to/program\", ...]"});
        }
        config.tasks[std::move(name)] = std::move(settings);
        return success();
    });
}

Status read_queue_settings(const toml::table& root, Config& config) {
    static constexpr std::string_view kAllowed[] = {"prefetch", "concurrency", "cluster_concurrency"};
    return for_each_section(root, "queue", kAllowed, [&](std::string name, const toml::table& queue, const std::string& key) {
        QueueSettings settings;
        for (auto read : {read_number(queue, "prefetch", settings.prefetch),
                          read_number(queue, "concurrency", settings.concurrency),
                          read_number(queue, "cluster_concurrency", settings.cluster_concurrency)}) {
            if (!read) return Status(Error{"[" + key + "]: " + read.error()});
        }
        config.queue_settings[std::move(name)] = settings;
        return success();
    });
}

Status read_worker(const toml::table& root, Config& config) {
    const toml::node* value = root.get("worker");
    if (!value) return success();
    if (auto text = value->value<std::string>()) {
        config.worker_command = split_command(*text);
        return success();
    }
    return read_strings(root, "worker", config.worker_command);
}

Status read_journal_sync(const toml::table& root, Config& config) {
    std::string sync;
    if (auto read = read_string(root, "journal_sync", sync); !read) return read;
    if (sync.empty()) return success();
    if (sync == "normal") {
        config.journal_sync = JournalSync::normal;
    } else if (sync == "full") {
        config.journal_sync = JournalSync::full;
    } else {
        return Error{"config key 'journal_sync' must be \"normal\" or \"full\", not \"" + sync + "\""};
    }
    return success();
}

Status apply_table(const toml::table& root, Config& config) {
    Status steps[] = {
        read_string(root, "name", config.name),
        read_string(root, "data", config.data_dir),
        read_strings(root, "bind", config.binds),
        read_strings(root, "peers", config.peers),
        read_string(root, "advertise", config.advertise),
        read_strings(root, "peer_bind", config.peer_binds),
        read_number(root, "max_peers", config.max_peers),
        read_strings(root, "publish", config.publish),
        read_number(root, "fanout_history", config.fanout_history),
        read_bool(root, "trace", config.trace),
        read_number(root, "heartbeat_interval", config.heartbeat_interval),
        read_number(root, "heartbeat_liveness", config.heartbeat_liveness),
        read_strings(root, "queues", config.queues),
        read_number(root, "min_workers", config.min_workers),
        read_number(root, "max_workers", config.max_workers),
        read_number(root, "capacity", config.capacity),
        read_worker(root, config),
        read_journal_sync(root, config),
        read_number(root, "journal_max_pages", config.journal_max_pages),
        read_number(root, "max_pending", config.max_pending),
        read_number(root, "result_ttl", config.result_ttl),
        read_number(root, "exec_output_limit", config.exec_output_limit),
        read_number(root, "worker_idle_timeout", config.worker_idle_timeout),
        read_number(root, "shutdown_grace", config.shutdown_grace),
        read_number(root, "cancel_grace", config.cancel_grace),
        read_number(root, "max_tasks_per_worker", config.max_tasks_per_worker),
        read_number(root, "max_worker_rss", config.max_worker_rss),
        read_number(root, "prefetch", config.prefetch),
        read_number(root, "soft_time_limit", config.soft_time_limit),
        read_number(root, "hard_time_limit", config.hard_time_limit),
        read_number(root, "prefetch_wait", config.prefetch_wait),
        read_number(root, "max_message_bytes", config.limits.max_message_bytes),
        read_string(root, "log_level", config.log_level),
        read_task_settings(root, config),
        read_queue_settings(root, config),
        read_schedules(root, config.schedules),
    };
    for (auto& step : steps) {
        if (!step) return step;
    }
    return success();
}

}  // namespace

std::string Config::local_endpoint() const { return node_endpoint_for(data_dir); }

std::string Config::local_peer_endpoint() const {
    std::string endpoint = local_endpoint();
    return endpoint.substr(0, endpoint.size() - std::string_view("node.sock").size()) + "peer.sock";
}

std::vector<std::string> default_peer_binds(const std::vector<std::string>& binds) {
    std::vector<std::string> peer_binds;
    for (const auto& bind : binds) {
        if (bind.rfind("tcp://", 0) != 0) continue;
        auto colon = bind.rfind(':');
        std::string port = bind.substr(colon + 1);
        if (port.empty() || port.size() > 5 || !std::all_of(port.begin(), port.end(), [](unsigned char c) {
                return std::isdigit(c) != 0;
            })) {
            continue;  // tcp://H:* and the like: no port to add one to
        }
        int number = std::stoi(port);
        if (number <= 0 || number >= 65535) continue;
        peer_binds.push_back(bind.substr(0, colon + 1) + std::to_string(number + 1));
    }
    return peer_binds;
}

Status load_config_file(const std::string& path, Config& config) {
    toml::table root;
    try {
        root = toml::parse_file(path);
    } catch (const toml::parse_error& error) {
        std::ostringstream where;
        where << error.source().begin;
        return Error{"config " + path + ": " + std::string(error.description()) + " at " + where.str()};
    }
    config.config_path = path;
    if (auto applied = apply_table(root, config); !applied) {
        return Error{"config " + path + ": " + applied.error()};
    }
    return success();
}

Status finish_config(Config& config) {
    if (config.name.empty()) config.name = host_name();
    if (config.data_dir.empty()) config.data_dir = default_data_dir();
    if (config.max_workers == 0) {
        unsigned cores = std::max(1u, std::thread::hardware_concurrency());
        config.max_workers = std::max(8u, 4 * cores);
    }
    if (config.capacity == 0) config.capacity = config.max_workers;
    if (config.worker_command.empty()) config.worker_command = default_worker_command();
    if (config.peer_binds.empty()) config.peer_binds = default_peer_binds(config.binds);
    if (config.advertise.empty()) {
        auto tcp = std::find_if(config.peer_binds.begin(), config.peer_binds.end(),
                                [](const std::string& endpoint) { return endpoint.rfind("tcp://", 0) == 0; });
        config.advertise = tcp != config.peer_binds.end() ? *tcp : config.local_peer_endpoint();
    }
    if (config.max_peers == 0) return Error{"max_peers must be at least 1"};
    if (config.min_workers == 0) return Error{"min_workers must be at least 1"};
    if (config.heartbeat_interval < 0.01) return Error{"heartbeat_interval must be at least 0.01 seconds"};
    if (config.heartbeat_liveness == 0) return Error{"heartbeat_liveness must be at least 1"};
    if (config.max_workers < config.min_workers) {
        return Error{"max_workers (" + std::to_string(config.max_workers) + ") is below min_workers (" +
                     std::to_string(config.min_workers) + ")"};
    }
    if (config.name.size() > config.limits.max_name_bytes) return Error{"node name is too long"};
    if (config.name.find('@') != std::string::npos) {
        return Error{"node name '" + config.name + "' may not contain '@' (broadcast runs are named ID@NODE)"};
    }
    for (const auto& [name, schedule] : config.schedules) {
        // sched:NAME:TIME:NODE, with the time to the millisecond, must fit in an id.
        constexpr std::size_t kTickIdOverhead = 32;
        if (schedule.scope == ScheduleScope::node &&
            kTickIdOverhead + name.size() + config.name.size() > config.limits.max_name_bytes) {
            return Error{"[schedules." + name +
                         "]: the name and the node name together are too long for a tick id (sched:NAME:TIME:NODE, "
                         "at most " +
                         std::to_string(config.limits.max_name_bytes) + " bytes); shorten one of them"};
        }
    }
    if (config.queues.empty()) config.queues = {"default"};
    if (config.prefetch == 0 || config.prefetch > 1024) return Error{"prefetch must be between 1 and 1024 tasks"};
    if (config.prefetch_wait < 0.001) return Error{"prefetch_wait must be at least 0.001 seconds"};
    if (config.fanout_history == 0 || config.fanout_history > 1'000'000) {
        return Error{"fanout_history must be between 1 and 1000000 messages"};
    }
    static const char* const kLogLevels[] = {"trace", "debug", "info", "warn", "error", "critical", "off"};
    if (std::find(std::begin(kLogLevels), std::end(kLogLevels), config.log_level) == std::end(kLogLevels)) {
        return Error{"log_level must be one of trace, debug, info, warn, error, critical, off; not \"" +
                     config.log_level + "\""};
    }
    // An exec result carries stdout and stderr, and must fit in one message to the client.
    if (config.exec_output_limit > config.limits.max_string_bytes / 2) {
        return Error{"exec_output_limit must be at most " + std::to_string(config.limits.max_string_bytes / 2) +
                     " bytes (a result must fit in one message)"};
    }
    return success();
}

std::vector<std::string> split_command(const std::string& text) {
    std::istringstream stream(text);
    std::vector<std::string> words;
    for (std::string word; stream >> word;) words.push_back(word);
    return words;
}

}  // namespace zq::node
