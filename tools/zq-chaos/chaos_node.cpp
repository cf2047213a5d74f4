#include "chaos_node.hpp"

#include "processes.hpp"

#include <zq/json.hpp>

#include <signal.h>

#include <fstream>
#include <iterator>
#include <thread>

namespace zq::chaos {
namespace {

using namespace std::chrono_literals;

std::string tail_of(const std::string& path, std::size_t bytes) {
    std::ifstream file(path, std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    return text.size() > bytes ? text.substr(text.size() - bytes) : text;
}

}  // namespace

ChaosNode::ChaosNode(NodeSpec spec) : spec_(std::move(spec)), client_(std::make_unique<Client>(endpoint())) {}

ChaosNode::~ChaosNode() {
    if (state_ != State::dead) kill();
}

bool ChaosNode::start(std::chrono::milliseconds deadline, std::string& why) {
    std::vector<std::string> argv = {spec_.bin_dir + "/zq-node", "run",          "--name",   spec_.name,
                                     "--data",                   spec_.data_dir, "--config", spec_.config_path};
    argv.insert(argv.end(), spec_.extra_args.begin(), spec_.extra_args.end());
    // `ip netns exec` enters the namespace and execs the node in the same process, so the
    // pid signalled is the node's.
    if (!spec_.netns.empty()) argv.insert(argv.begin(), {"/usr/sbin/ip", "netns", "exec", spec_.netns});
    pid_ = spawn(argv, spec_.log_path);
    if (pid_ <= 0) {
        why = "cannot start " + argv.front();
        return false;
    }
    pids_.insert(pid_);
    state_ = State::running;
    client_ = std::make_unique<Client>(endpoint());
    const auto until = std::chrono::steady_clock::now() + deadline;
    while (std::chrono::steady_clock::now() < until) {
        int exit_code = 0;
        if (reap(pid_, 0ms, &exit_code)) {
            state_ = State::dead;
            why = "node " + spec_.name + " exited at start (" + std::to_string(exit_code) + "):\n" +
                  tail_of(spec_.log_path, 2000);
            return false;
        }
        if (client_->control("status", 300ms)) return true;
    }
    why = "node " + spec_.name + " did not answer status in time:\n" + tail_of(spec_.log_path, 2000);
    return false;
}

void ChaosNode::kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    reap(pid_, 10s);
    pid_ = -1;
    state_ = State::dead;
}

void ChaosNode::stop() {
    if (state_ != State::running) return;
    ::kill(pid_, SIGSTOP);
    state_ = State::stopped;
}

void ChaosNode::resume() {
    if (state_ != State::stopped) return;
    ::kill(pid_, SIGCONT);
    state_ = State::running;
}

void ChaosNode::terminate(std::chrono::milliseconds grace) {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGCONT);
    ::kill(pid_, SIGTERM);
    if (!reap(pid_, grace)) kill();
    pid_ = -1;
    state_ = State::dead;
}

std::vector<int> ChaosNode::worker_pids(bool busy_only) {
    std::vector<int> pids;
    if (state_ != State::running) return pids;
    auto reply = client_->control("status", 1s);
    if (!reply) return pids;
    const nlohmann::json status = packed_to_json(*reply);
    if (!status.contains("workers") || !status["workers"].is_array()) return pids;
    for (const auto& worker : status["workers"]) {
        if (!worker.contains("pid") || !worker["pid"].is_number()) continue;
        if (busy_only && !(worker.contains("task") && worker["task"].is_object())) continue;
        pids.push_back(worker["pid"].get<int>());
    }
    return pids;
}

}  // namespace zq::chaos
