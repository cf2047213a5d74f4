// Real zq-node processes for tests: each gets its own temporary data directory (and so its
// own ipc endpoint), is started with fork+exec, and is killed and reaped by the destructor.
//
//   zq::test::NodeProcess node({.config = "[tasks.hello]\ncommand = [\"/bin/echo\"]\n"});
//   zq::Client client(node.endpoint());
//   auto submitted = client.submit(zq::Task("hello").with_args("world"));
//
// Every wait takes a deadline; nothing sleeps for a fixed time.
#pragma once

#include <zq/client.hpp>

#include <nlohmann/json.hpp>
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace zq::test {

using namespace std::chrono_literals;
inline constexpr std::chrono::milliseconds kDeadline = 15s;

// Polls `condition` until it is true or the deadline passes; returns the last answer.
bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds deadline = kDeadline);

// A fresh directory under /tmp, removed (recursively) by the destructor.
class TempDir {
public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::string& path() const { return path_; }

private:
    std::string path_;
};

struct NodeOptions {
    std::string name = "test";
    std::string config;  // TOML text written to DATA/../node.toml and passed with --config
    unsigned min_workers = 2;
    unsigned max_workers = 4;
    std::vector<std::string> extra_args;
    std::string netns;  // run the node inside this network namespace (ip netns exec)
};

class NodeProcess {
public:
    explicit NodeProcess(NodeOptions options = {});
    ~NodeProcess();
    NodeProcess(const NodeProcess&) = delete;
    NodeProcess& operator=(const NodeProcess&) = delete;

    // Starts the node and waits until it answers status. Called by the constructor; call
    // again after kill() to restart on the same data directory.
    void start();
    // Sends a signal; with SIGKILL (or wait=true) also reaps the process.
    void signal(int number);
    void kill_hard();
    // Waits for the process to exit; returns its exit status (or -1 on timeout).
    int wait_exit(std::chrono::milliseconds deadline = kDeadline);
    bool running() const { return pid_ > 0; }

    // Replaces the config file (the node reads it again on `zq-node reload` or a restart).
    void write_config(const std::string& text);

    pid_t pid() const { return pid_; }
    const std::string& endpoint() const { return endpoint_; }
    // Where peers reach the node on this host: its peer port, ipc://DATA/peer.sock.
    std::string peer_endpoint() const { return "ipc://" + data_dir_ + "/peer.sock"; }
    const std::string& data_dir() const { return data_dir_; }
    const std::string& log_path() const { return log_path_; }
    // The node's log so far (for failure messages).
    std::string log() const;

    // `zq-node status --json`, through the client API.
    nlohmann::json status();
    // Pids of the node's worker processes, from status.
    std::vector<int> worker_pids();
    // The pid of the worker running job `id`, once status shows it running (0 if never).
    int worker_running(const std::string& id);

private:
    // Adds --peer-bind with a free port to a node given a tcp --bind and no --peer-bind.
    void give_tcp_peer_port();

    NodeOptions options_;
    TempDir dir_;
    std::string data_dir_;
    std::string endpoint_;
    std::string config_path_;
    std::string log_path_;
    pid_t pid_ = -1;
};

// Waits for each job and requires that it succeeded.
void require_all_succeeded(Client& client, const std::vector<std::string>& ids);
// Keeps a worker of the node busy with zq.sleep 60; returns once it runs.
struct RunningJob {
    std::string id;
    int worker = 0;  // pid of the worker running it
};
RunningJob occupy_worker(NodeProcess& node, Client& client);

// Runs a program to completion with its output captured (no shell). Returns exit status.
struct CommandResult {
    int exit_code = -1;
    std::string out;
    std::string err;
};
CommandResult run_command(const std::vector<std::string>& argv, std::chrono::milliseconds deadline = kDeadline,
                          const std::vector<std::string>& environment = {});

// Pids of the direct children of `parent`, read from /proc.
std::vector<int> child_pids(int parent);
bool process_alive(int pid);

}  // namespace zq::test
