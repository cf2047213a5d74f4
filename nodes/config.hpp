// The node's configuration: embedded defaults, then the TOML file (--config), then the
// command line. docs/configuration.md lists every key with its default.
#pragma once

#include "journal.hpp"
#include "schedule_config.hpp"

#include <zq/protocol.hpp>
#include <zq/result.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace zq::node {

// Settings for one task name, from [tasks.NAME]. With `command`, the task is an exec task:
// command = ["/usr/bin/convert", "--quiet"]; the job's arguments are appended to the argv and
// no shell ever sees them. Without it, the section only sets limits for a worker's task.
struct TaskSettings {
    std::vector<std::string> command;
    double soft_time_limit = 0;  // seconds, 0 = none; a job's own limit wins
    double hard_time_limit = 0;
    unsigned prefetch = 0;  // tasks a worker may hold; 0: the node's `prefetch`
    // The retry policy of the task's jobs; a job's own settings win (zq::Task explains each).
    unsigned retries = 0;
    double retry_delay = 0;
    double retry_backoff = 0;
    double retry_backoff_max = 0;
    bool retry_jitter = false;
    bool retry_on_worker_lost = false;
    // An exec task that exits with this status asks for a retry (-1: none does).
    int retry_exit_code = -1;
    // Uniqueness and throttling of the task's jobs (docs/configuration.md); a job's own
    // ukey, upol and kconc win. `key` is a fixed text or "task+args".
    std::string on_duplicate;  // "": parallel
    std::string key;
    unsigned key_concurrency = 0;  // 0: no throttle
    // Capacity units each of its jobs takes while it runs (0: 1), and whether they run alone on
    // their node (capacity_gate.hpp). A job's own `wt` wins; `excl` on either side makes it so.
    unsigned weight = 0;
    bool exclusive = false;
    bool exec() const { return !command.empty(); }
};

// Settings for one queue, from [queue.NAME].
struct QueueSettings {
    unsigned prefetch = 0;  // 0: the node's `prefetch`
    // Jobs of the queue that may run at once in the whole cluster (0: no limit). Every node
    // must configure the same value: the queue's home enforces the one its jobs carry.
    unsigned cluster_concurrency = 0;
    // Jobs of the queue that run at once on this node, at most (0: no limit).
    unsigned concurrency = 0;
};

struct Config {
    std::string config_path;  // the file it was read from, if any (reload reads it again)
    std::string name;         // default: the host name
    std::string data_dir;     // default: zq::default_data_dir()
    std::vector<std::string> binds;  // client endpoints besides ipc://DATA/node.sock
    std::vector<std::string> peers;
    // Time limits of a job whose task and submitter set none (seconds, 0 = none).
    double soft_time_limit = 0;
    double hard_time_limit = 0;
    // The peer port (router_port.hpp): ipc://DATA/peer.sock always, plus these endpoints;
    // default: tcp://H:P+1 for every client bind tcp://H:P with a numeric port.
    std::vector<std::string> peer_binds;
    // Peers that HELLO and WELCOME may add (linked endpoints, configured ones included).
    std::uint64_t max_peers = 1024;
    // This node's peer endpoint, as peers reach it; default: the first tcp peer bind, else
    // ipc://DATA/peer.sock.
    std::string advertise;
    std::vector<std::string> publish;  // PUB endpoints; default: ipc://DATA/pub.sock + tcp://HOST:* per tcp bind
    std::uint64_t fanout_history = 10000;  // messages kept per fanout stream (broadcasts, events, tap)
    bool trace = false;                    // protocol tap on at start
    std::uint64_t test_drop_broadcast = 0;  // test hook: this broadcast sequence number is not sent
    double heartbeat_interval = 1.0;
    unsigned heartbeat_liveness = 3;
    std::vector<std::string> queues{"default"};
    unsigned min_workers = 4;
    unsigned max_workers = 0;  // 0: 4 × cores, at least 8
    // Capacity units of the node: running jobs' weights add up to at most this (0: max_workers).
    std::uint64_t capacity = 0;
    std::vector<std::string> worker_command;  // default: zq-worker beside zq-node
    JournalSync journal_sync = JournalSync::normal;
    std::uint64_t journal_max_pages = 0;  // 0: unbounded (tests set it to fake a full disk)
    std::uint64_t max_pending = 1'000'000;
    double result_ttl = 7 * 24 * 3600.0;  // seconds terminal jobs are kept
    std::uint64_t exec_output_limit = 64 * 1024;
    double worker_idle_timeout = 30;
    double shutdown_grace = 30;
    double cancel_grace = 5;
    std::uint64_t max_tasks_per_worker = 0;  // 0: never recycle by count
    std::uint64_t max_worker_rss = 0;        // bytes, 0: never recycle by memory
    // Tasks a worker may hold while the queue is deep (it runs them in order); 1: one at a time.
    unsigned prefetch = 16;
    // Seconds a task may wait at a worker behind a running one before it is taken back.
    double prefetch_wait = 0.2;
    std::string log_level = "info";
    std::map<std::string, TaskSettings, std::less<>> tasks;
    std::map<std::string, QueueSettings, std::less<>> queue_settings;  // [queue.NAME]
    Schedules schedules;                                                // [schedules.NAME]
    protocol::Limits limits;

    // The endpoint clients on this host use: ipc://DATA/node.sock.
    std::string local_endpoint() const;
    // The endpoint peers on this host use: ipc://DATA/peer.sock.
    std::string local_peer_endpoint() const;
};

// Reads a TOML file over the defaults in `config`.
Status load_config_file(const std::string& path, Config& config);
// Fills what is still unset (name, data_dir, max_workers, worker_command) and checks ranges.
Status finish_config(Config& config);
// The default peer endpoints for client binds: tcp://H:P+1 for each tcp://H:P (numeric P).
std::vector<std::string> default_peer_binds(const std::vector<std::string>& binds);
// Splits a --worker "CMD ARG..." string on whitespace (no shell, no quoting rules).
std::vector<std::string> split_command(const std::string& text);

}  // namespace zq::node
