#include "soak.hpp"

#include "chaos_network.hpp"
#include "chaos_node.hpp"
#include "processes.hpp"

#include <zq/client.hpp>
#include <zq/task.hpp>

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <thread>

namespace zq::chaos {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kNodes = 3;
constexpr int kClientPort = 7700;
// Heartbeats fast enough that a stop or a cut of a second is seen as a lost peer.
constexpr const char* kClusterConfig =
    "heartbeat_interval = 0.2\n"
    "heartbeat_liveness = 3\n"
    "shutdown_grace = 3\n"
    "cancel_grace = 1\n";
constexpr auto kStartDeadline = 20s;
constexpr auto kSubmitTimeout = 2s;

std::atomic<bool> interrupted = false;

void on_interrupt(int) { interrupted = true; }

void note(const std::string& text) { std::fprintf(stderr, "chaos: %s\n", text.c_str()); }

// A fault's undoing, due at `at`.
struct Undo {
    enum class Kind { restart, resume, heal } kind;
    Clock::time_point at;
    std::size_t node = 0;
    std::size_t other = 0;  // heal: the other end of the link
};

struct Submission {
    std::string id;
    std::size_t node = 0;  // submitted to (its origin)
    double sleep = 0;
    std::string target;
};

class Soak {
public:
    explicit Soak(const SoakOptions& options) : options_(options), random_(options.seed) {}

    SoakResult run() {
        std::signal(SIGINT, on_interrupt);
        std::signal(SIGTERM, on_interrupt);
        if (setup()) {
            drive();
            settle();
        }
        teardown();
        if (!result_.passed() || options_.keep) {
            result_.directory = directory_;
        } else {
            std::error_code ignored;
            std::filesystem::remove_all(directory_, ignored);
        }
        return result_;
    }

private:
    bool setup() {
        char pattern[] = "/tmp/zq-chaos.XXXXXX";
        if (!::mkdtemp(pattern)) {
            result_.setup_error = "cannot make a directory under /tmp";
            return false;
        }
        directory_ = pattern;
        prefix_ = "zqc" + std::to_string(::getpid()) + "-";
        if (options_.network) {
            auto network = Network::create(prefix_, kNodes);
            if (network) {
                network_ = std::move(*network);
            } else {
                note("no network namespaces, so no link is cut (" + network.error() + ")");
            }
        }
        result_.network = network_ != nullptr;
        for (std::size_t i = 0; i < kNodes; ++i) {
            const std::string name(1, static_cast<char>('a' + i));
            const std::string config_path = directory_ + "/" + name + ".toml";
            std::ofstream(config_path) << kClusterConfig << "[tasks.rec]\ncommand = [\"/bin/sh\", \"-c\", 'echo \"$ZQ_JOB_ID\" >> "
                                       << run_file(i) << "; exec sleep \"$0\"']\n";
            NodeSpec spec{.name = name,
                          .bin_dir = options_.bin_dir,
                          .data_dir = directory_ + "/" + name,
                          .config_path = config_path,
                          .log_path = directory_ + "/" + name + ".log",
                          .netns = network_ ? network_->namespace_of(i) : "",
                          .extra_args = {"--min-workers", "1", "--max-workers", "2", "--log-level", "info"}};
            for (std::size_t j = 0; j < kNodes; ++j) {
                if (network_) {
                    const auto endpoint = [&](std::size_t k) {
                        return "tcp://" + network_->address_of(k) + ":" + std::to_string(kClientPort);
                    };
                    if (j == i) spec.extra_args.insert(spec.extra_args.end(), {"--bind", endpoint(j)});
                    else spec.extra_args.insert(spec.extra_args.end(), {"--peer", endpoint(j)});
                } else if (j != i) {
                    const std::string other(1, static_cast<char>('a' + j));
                    spec.extra_args.insert(spec.extra_args.end(), {"--peer", "ipc://" + directory_ + "/" + other + "/node.sock"});
                }
            }
            nodes_.push_back(std::make_unique<ChaosNode>(std::move(spec)));
        }
        for (auto& node : nodes_) {
            std::string why;
            if (!node->start(kStartDeadline, why)) {
                result_.setup_error = why;
                return false;
            }
        }
        return true;
    }

    std::string run_file(std::size_t node) const {
        return directory_ + "/runs-" + std::string(1, static_cast<char>('a' + node));
    }

    double uniform(double low, double high) { return std::uniform_real_distribution<double>(low, high)(random_); }
    std::size_t pick(std::size_t count) { return std::uniform_int_distribution<std::size_t>(0, count - 1)(random_); }

    // Submits the jobs at the configured rate, injecting faults and undoing them as they
    // fall due.
    void drive() {
        const auto start = Clock::now();
        auto next_fault = start + seconds(uniform(0.5, 2 * options_.fault_interval));
        for (std::size_t i = 0; i < options_.jobs && !interrupted; ++i) {
            const auto due = start + seconds(static_cast<double>(i) / options_.rate);
            while (Clock::now() < due && !interrupted) {
                undo_due(false);
                if (Clock::now() >= next_fault) {
                    fault();
                    next_fault = Clock::now() + seconds(uniform(0.2, 2 * options_.fault_interval));
                }
                std::this_thread::sleep_for(5ms);
            }
            Submission submission{new_job_id(), 0, 0, ""};
            const double sleeps[] = {0, 0.05, 0.1, 0.2, 0.4};
            submission.sleep = sleeps[pick(std::size(sleeps))];
            if (pick(5) == 0) submission.target = nodes_[pick(kNodes)]->name();
            std::vector<std::size_t> up;
            for (std::size_t n = 0; n < kNodes; ++n) {
                if (nodes_[n]->state() == ChaosNode::State::running) up.push_back(n);
            }
            submission.node = up.empty() ? pick(kNodes) : up[pick(up.size())];
            if (up.empty() || !submit(submission)) unanswered_.push_back(submission);
        }
    }

    static Clock::duration seconds(double value) {
        return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(value));
    }

    bool submit(const Submission& submission) {
        Task task("rec");
        task.with_args(submission.sleep).with_id(submission.id);
        task.target = submission.target;
        auto accepted = nodes_[submission.node]->client().submit(task, kSubmitTimeout);
        if (!accepted) return false;
        accepted_.push_back(submission);
        return true;
    }

    bool node_down() const {
        return std::any_of(nodes_.begin(), nodes_.end(),
                           [](const auto& node) { return node->state() != ChaosNode::State::running; });
    }

    void fault() {
        enum Kind { kill_worker, kill_node, term_node, stop_node, cut_link };
        std::vector<Kind> kinds = {kill_worker, kill_worker};
        if (!node_down()) kinds.insert(kinds.end(), {kill_node, kill_node, term_node, stop_node, stop_node});
        if (network_ && !cut_) kinds.push_back(cut_link);
        const Kind kind = kinds[pick(kinds.size())];
        const std::size_t n = pick(kNodes);
        ChaosNode& node = *nodes_[n];
        switch (kind) {
        case kill_worker: {
            auto busy = node.worker_pids(true);
            auto any = busy.empty() ? node.worker_pids(false) : busy;
            if (any.empty()) return;
            ::kill(any[pick(any.size())], SIGKILL);
            ++result_.worker_kills;
            return;
        }
        case kill_node:
            node.kill();
            ++result_.node_kills;
            undos_.push_back({Undo::Kind::restart, Clock::now() + seconds(uniform(0.3, 1.5)), n});
            return;
        case term_node:
            // A graceful stop: the node hands its waiting jobs on before it exits.
            node.terminate(10s);
            ++result_.terms;
            undos_.push_back({Undo::Kind::restart, Clock::now() + seconds(uniform(0.3, 1.5)), n});
            return;
        case stop_node:
            node.stop();
            ++result_.stops;
            undos_.push_back({Undo::Kind::resume, Clock::now() + seconds(uniform(0.2, 1.5)), n});
            return;
        case cut_link: {
            const std::size_t other = (n + 1 + pick(kNodes - 1)) % kNodes;
            if (!network_->cut(n, other)) return;
            cut_ = true;
            ++result_.cuts;
            undos_.push_back({Undo::Kind::heal, Clock::now() + seconds(uniform(0.5, 2.5)), n, other});
            return;
        }
        }
    }

    void undo_due(bool all) {
        const auto now = Clock::now();
        for (auto it = undos_.begin(); it != undos_.end();) {
            if (!all && it->at > now) {
                ++it;
                continue;
            }
            const Undo undo = *it;
            it = undos_.erase(it);
            switch (undo.kind) {
            case Undo::Kind::restart: {
                std::string why;
                if (!nodes_[undo.node]->start(kStartDeadline, why)) note("restart failed: " + why);
                break;
            }
            case Undo::Kind::resume: nodes_[undo.node]->resume(); break;
            case Undo::Kind::heal:
                network_->heal(undo.node, undo.other);
                cut_ = false;
                break;
            }
        }
    }

    Reads read_all() {
        Reads reads;
        for (const auto& submission : accepted_) reads[submission.id] = read(submission);
        return reads;
    }

    JobRead read(const Submission& submission) {
        auto job = nodes_[submission.node]->client().status(submission.id, kSubmitTimeout);
        if (job) return {job->state, true};
        if (job.failure().code == ErrorCode::not_found) return {std::nullopt, true};
        return {std::nullopt, false};
    }

    // Every fault undone, every unanswered submission sent again, then every job awaited.
    void settle() {
        undo_due(true);
        for (auto& node : nodes_) {
            if (node->state() != ChaosNode::State::running) {
                std::string why;
                if (!node->start(kStartDeadline, why)) note("restart failed: " + why);
            }
        }
        const auto resubmit_deadline = Clock::now() + seconds(options_.settle_seconds);
        while (!unanswered_.empty() && Clock::now() < resubmit_deadline && !interrupted) {
            std::vector<Submission> again = std::exchange(unanswered_, {});
            for (const auto& submission : again) {
                if (!submit(submission)) unanswered_.push_back(submission);
            }
        }
        if (!unanswered_.empty()) note(std::to_string(unanswered_.size()) + " submissions never answered");
        result_.accepted = accepted_.size();

        Reads first;
        std::vector<const Submission*> waiting;
        for (const auto& submission : accepted_) waiting.push_back(&submission);
        // A backlog is not a fault: the wait goes on while jobs keep ending, and what has not
        // ended when none has for settle_seconds is stuck.
        auto last_progress = Clock::now();
        while (!waiting.empty() && !interrupted) {
            std::vector<const Submission*> still;
            for (const Submission* submission : waiting) {
                JobRead current = read(*submission);
                first[submission->id] = current;
                if (!current.answered || (current.state && !is_terminal(*current.state))) still.push_back(submission);
            }
            if (still.size() < waiting.size()) last_progress = Clock::now();
            waiting = std::move(still);
            if (waiting.empty() || Clock::now() - last_progress >= seconds(options_.settle_seconds)) break;
            std::this_thread::sleep_for(200ms);
        }
        // Long enough for late reports from owners (several heartbeat intervals) to arrive.
        std::this_thread::sleep_for(1s);
        const Reads second = read_all();
        std::vector<std::string> ids;
        for (const auto& submission : accepted_) ids.push_back(submission.id);
        std::vector<std::string> files;
        for (std::size_t n = 0; n < kNodes; ++n) files.push_back(run_file(n));
        result_.verdict = judge(ids, first, second, count_runs(files));
    }

    void teardown() {
        std::set<pid_t> node_pids;
        for (auto& node : nodes_) {
            node->terminate(10s);
            node_pids.insert(node->pids().begin(), node->pids().end());
        }
        // Workers and their commands go when their node goes; give them a moment to.
        std::vector<pid_t> left;
        const auto until = Clock::now() + 10s;
        do {
            left = processes_of_run(directory_, node_pids);
            if (left.empty()) break;
            std::this_thread::sleep_for(50ms);
        } while (Clock::now() < until);
        for (pid_t pid : left) {
            note("orphan process " + std::to_string(pid) + " left by the run; killed");
            ::kill(pid, SIGKILL);
        }
        result_.orphans = left.size();
        if (network_) network_->remove();
        network_.reset();
        const auto namespaces = Network::existing(prefix_);
        for (const auto& name : namespaces) note("network namespace " + name + " left by the run");
        result_.orphans += namespaces.size();
    }

    SoakOptions options_;
    std::mt19937_64 random_;
    SoakResult result_;
    std::string directory_;
    std::string prefix_;
    std::unique_ptr<Network> network_;
    std::vector<std::unique_ptr<ChaosNode>> nodes_;
    std::vector<Undo> undos_;
    bool cut_ = false;
    std::vector<Submission> accepted_;
    std::vector<Submission> unanswered_;
};

}  // namespace

SoakResult run_soak(const SoakOptions& options) { return Soak(options).run(); }

}  // namespace zq::chaos
