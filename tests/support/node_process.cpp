#include "support/node_process.hpp"

#include "support/cluster.hpp"

#include <zq/json.hpp>

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace zq::test {
namespace {

constexpr auto kPollStep = std::chrono::milliseconds(10);

std::vector<char*> c_strings(std::vector<std::string>& strings) {
    std::vector<char*> pointers;
    for (auto& text : strings) pointers.push_back(text.data());
    pointers.push_back(nullptr);
    return pointers;
}

std::vector<std::string> merged_environment(const std::vector<std::string>& extra) {
    std::vector<std::string> env;
    for (char** entry = environ; *entry; ++entry) {
        std::string text(*entry);
        bool replaced = false;
        for (const auto& item : extra) {
            if (text.substr(0, text.find('=') + 1) == item.substr(0, item.find('=') + 1)) replaced = true;
        }
        if (!replaced) env.push_back(text);
    }
    env.insert(env.end(), extra.begin(), extra.end());
    return env;
}

}  // namespace

bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds deadline) {
    auto end = std::chrono::steady_clock::now() + deadline;
    while (true) {
        if (condition()) return true;
        if (std::chrono::steady_clock::now() >= end) return false;
        std::this_thread::sleep_for(kPollStep);
    }
}

TempDir::TempDir() {
    char pattern[] = "/tmp/zqtest-XXXXXX";
    if (!mkdtemp(pattern)) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
}

TempDir::~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
}

NodeProcess::NodeProcess(NodeOptions options) : options_(std::move(options)) {
    data_dir_ = dir_.path() + "/data";
    endpoint_ = "ipc://" + data_dir_ + "/node.sock";
    log_path_ = dir_.path() + "/node.log";
    config_path_ = dir_.path() + "/node.toml";
    std::ofstream(config_path_) << options_.config;
    give_tcp_peer_port();
    start();
}

void NodeProcess::give_tcp_peer_port() {
    // A node with a tcp client port would take port + 1 for its peer port by default, which
    // another test's node may hold: each gets a free port of its own, kept across restarts.
    auto& args = options_.extra_args;
    if (std::find(args.begin(), args.end(), "--peer-bind") != args.end()) return;
    for (std::size_t i = 0; i + 1 < args.size(); ++i) {
        if (args[i] != "--bind" || args[i + 1].rfind("tcp://", 0) != 0) continue;
        std::string host = args[i + 1].substr(0, args[i + 1].rfind(':'));
        args.insert(args.end(), {"--peer-bind", host + ":" + std::to_string(free_tcp_port())});
        return;
    }
}

NodeProcess::~NodeProcess() {
    if (pid_ > 0) kill_hard();
}

void NodeProcess::start() {
    std::vector<std::string> argv = {ZQ_BIN_DIR "/zq-node", "run",
                                     "--name", options_.name,
                                     "--data", data_dir_,
                                     "--config", config_path_,
                                     "--min-workers", std::to_string(options_.min_workers),
                                     "--max-workers", std::to_string(options_.max_workers)};
    argv.insert(argv.end(), options_.extra_args.begin(), options_.extra_args.end());
    // `ip netns exec` enters the namespace and execs the node in the same process, so the
    // pid the test signals is the node's.
    if (!options_.netns.empty()) argv.insert(argv.begin(), {"/usr/sbin/ip", "netns", "exec", options_.netns});
    int log_fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    pid_ = fork();
    if (pid_ == 0) {
        dup2(log_fd, 1);
        dup2(log_fd, 2);
        auto args = c_strings(argv);
        execv(args[0], args.data());
        _exit(127);
    }
    ::close(log_fd);
    bool answers = wait_until([&] {
        int status = 0;
        if (waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            throw std::runtime_error("zq-node exited at start:\n" + log());
        }
        Client client(endpoint_);
        return static_cast<bool>(client.control("status", std::chrono::milliseconds(200)));
    });
    if (!answers) throw std::runtime_error("zq-node did not answer status in time:\n" + log());
}

void NodeProcess::signal(int number) {
    if (pid_ > 0) ::kill(pid_, number);
}

void NodeProcess::kill_hard() {
    signal(SIGKILL);
    wait_exit();
}

int NodeProcess::wait_exit(std::chrono::milliseconds deadline) {
    int exit_status = -1;
    wait_until(
        [&] {
            int status = 0;
            if (pid_ <= 0) return true;
            if (waitpid(pid_, &status, WNOHANG) != pid_) return false;
            exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            pid_ = -1;
            return true;
        },
        deadline);
    return exit_status;
}

void NodeProcess::write_config(const std::string& text) {
    options_.config = text;
    std::ofstream(config_path_) << text;
}

std::string NodeProcess::log() const {
    std::ifstream file(log_path_);
    std::stringstream text;
    text << file.rdbuf();
    return text.str();
}

nlohmann::json NodeProcess::status() {
    Client client(endpoint_);
    auto reply = client.control("status");
    if (!reply) throw std::runtime_error("status failed: " + reply.error());
    return packed_to_json(*reply);
}

std::vector<int> NodeProcess::worker_pids() {
    std::vector<int> pids;
    auto current = status();  // named: a range over a temporary's member would dangle
    for (const auto& worker : current["workers"]) pids.push_back(worker["pid"].get<int>());
    return pids;
}

int NodeProcess::worker_running(const std::string& id) {
    int pid = 0;
    wait_until([&] {
        auto current = status();
        for (const auto& worker : current["workers"]) {
            if (worker["task"].is_object() && worker["task"]["id"] == id) {
                pid = worker["pid"].get<int>();
                return true;
            }
        }
        return false;
    });
    return pid;
}

void require_all_succeeded(Client& client, const std::vector<std::string>& ids) {
    for (const auto& id : ids) {
        auto job = client.wait(id, kDeadline);
        REQUIRE(job);
        CHECK(job->state == JobState::succeeded);
    }
}

RunningJob occupy_worker(NodeProcess& node, Client& client) {
    auto blocker = client.submit(Task("zq.sleep").with_args(60));
    REQUIRE(blocker);
    const int worker = node.worker_running(blocker->id);
    REQUIRE(worker > 0);
    return {blocker->id, worker};
}

CommandResult run_command(const std::vector<std::string>& argv_in, std::chrono::milliseconds deadline,
                          const std::vector<std::string>& environment) {
    std::vector<std::string> argv = argv_in;
    int out_pipe[2], err_pipe[2];
    if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
    std::vector<std::string> env = merged_environment(environment);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(out_pipe[1], 1);
        dup2(err_pipe[1], 2);
        auto args = c_strings(argv);
        auto envp = c_strings(env);
        execve(args[0], args.data(), envp.data());
        _exit(127);
    }
    ::close(out_pipe[1]);
    ::close(err_pipe[1]);
    CommandResult result;
    pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
    auto end = std::chrono::steady_clock::now() + deadline;
    int open_count = 2;
    while (open_count > 0 && std::chrono::steady_clock::now() < end) {
        if (poll(fds, 2, 50) <= 0) continue;
        for (int i = 0; i < 2; ++i) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP))) continue;
            char buffer[4096];
            ssize_t n = read(fds[i].fd, buffer, sizeof buffer);
            if (n <= 0) {
                ::close(fds[i].fd);
                fds[i].fd = -1;
                --open_count;
            } else {
                (i == 0 ? result.out : result.err).append(buffer, static_cast<std::size_t>(n));
            }
        }
    }
    for (auto& fd : fds) {
        if (fd.fd >= 0) ::close(fd.fd);
    }
    int status = 0;
    if (open_count > 0) ::kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return result;
}

std::vector<int> child_pids(int parent) {
    std::vector<int> children;
    for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
        std::string name = entry.path().filename();
        if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0]))) continue;
        std::ifstream stat(entry.path() / "stat");
        std::string line;
        if (!std::getline(stat, line)) continue;
        // pid (comm) state ppid ...; comm may hold spaces, so parse after the last ')'.
        auto close = line.rfind(')');
        if (close == std::string::npos) continue;
        std::istringstream rest(line.substr(close + 2));
        char state = 0;
        int ppid = 0;
        rest >> state >> ppid;
        if (ppid == parent && state != 'Z') children.push_back(std::stoi(name));
    }
    return children;
}

bool process_alive(int pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(stat, line)) return false;
    auto close = line.rfind(')');
    return close != std::string::npos && line.size() > close + 2 && line[close + 2] != 'Z';
}

}  // namespace zq::test
