// One zq-node of the soak: started (inside its network namespace when there is one) on its
// own data directory, SIGKILLed and started again on the same directory, SIGSTOPped and
// SIGCONTed, and stopped with SIGTERM at the end. The soak talks to it through its ipc socket.
#pragma once

#include <zq/client.hpp>

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace zq::chaos {

struct NodeSpec {
    std::string name;
    std::string bin_dir;   // where zq-node is
    std::string data_dir;
    std::string config_path;
    std::string log_path;
    std::string netns;  // empty: the soak's own namespace
    std::vector<std::string> extra_args;  // --bind, --peer, workers
};

class ChaosNode {
public:
    enum class State { dead, running, stopped };

    explicit ChaosNode(NodeSpec spec);
    ~ChaosNode();
    ChaosNode(const ChaosNode&) = delete;
    ChaosNode& operator=(const ChaosNode&) = delete;

    // Starts the node and waits until it answers status; false (with the log's tail in
    // `why`) when it did not in time.
    bool start(std::chrono::milliseconds deadline, std::string& why);
    void kill();    // SIGKILL, reaped at once
    void stop();    // SIGSTOP
    void resume();  // SIGCONT
    // SIGTERM (after SIGCONT), then SIGKILL when it has not exited within `grace`.
    void terminate(std::chrono::milliseconds grace);

    State state() const { return state_; }
    const std::string& name() const { return spec_.name; }
    std::string endpoint() const { return "ipc://" + spec_.data_dir + "/node.sock"; }
    // Every pid this node has had, for the orphan scan (workers name their parent's pid).
    const std::set<pid_t>& pids() const { return pids_; }
    // A client of the node, new after each start.
    Client& client() { return *client_; }
    // Pids of its workers, and of those running a job, from status (empty when it does not
    // answer in time).
    std::vector<int> worker_pids(bool busy_only);

private:
    NodeSpec spec_;
    State state_ = State::dead;
    pid_t pid_ = -1;
    std::set<pid_t> pids_;
    std::unique_ptr<Client> client_;
};

}  // namespace zq::chaos
