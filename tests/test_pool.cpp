// The worker pool end to end: real zq-node processes, real workers, real signals. How the pool
// grows under a burst and shrinks back, how it bounds what it holds, how it survives workers
// that die and how it dies with its node, how it recycles workers, and what status shows.
#include "support/node_process.hpp"

#include <zq/client.hpp>
#include <zq/json.hpp>
#include <zq/worker_link.hpp>

#include <catch2/catch.hpp>

#include <signal.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <variant>
#include <vector>

using namespace zq::test;
using zq::Client;
using zq::JobState;
using zq::Task;

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// Resident memory of a process in bytes (VmRSS in /proc/PID/status); 0 once it is gone.
std::uint64_t resident_bytes(int pid) {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(status, line);) {
        if (!line.starts_with("VmRSS:")) continue;
        std::istringstream fields(line.substr(6));
        std::uint64_t kilobytes = 0;
        fields >> kilobytes;
        return kilobytes * 1024;
    }
    return 0;
}

// `zq-node status` through one client kept open, so that sampling it often is cheap.
class StatusProbe {
public:
    explicit StatusProbe(const NodeProcess& node) : client_(node.endpoint()) {}

    nlohmann::json status() {
        auto reply = client_.control("status");
        REQUIRE(reply);
        return zq::packed_to_json(*reply);
    }
    std::size_t pool_size() { return status()["pool"]["size"].get<std::size_t>(); }

private:
    Client client_;
};

// The pool's size over time, sampled through status: the largest seen, and a "seconds:size"
// entry at each change.
class PoolTimeline {
public:
    explicit PoolTimeline(NodeProcess& node) : probe_(node), started_(Clock::now()) {}

    std::size_t sample() {
        const std::size_t size = probe_.pool_size();
        largest_ = std::max(largest_, size);
        if (changes_.empty() || size != last_) {
            char entry[48];
            std::snprintf(entry, sizeof entry, "%s%.2f:%zu", changes_.empty() ? "" : " ", seconds_since(started_),
                          size);
            changes_ += entry;
            last_ = size;
        }
        return size;
    }
    std::size_t largest() const { return largest_; }
    const std::string& changes() const { return changes_; }

private:
    StatusProbe probe_;
    Clock::time_point started_;
    std::size_t largest_ = 0;
    std::size_t last_ = 0;
    std::string changes_;
};

// How a burst ended.
struct Burst {
    std::size_t succeeded = 0;
    std::size_t failed = 0;
    std::vector<std::string> failures;  // "ID: how it ended", the first few
    double drain_seconds = 0;
};

// Keeps `window` tasks in flight (posted with watch, so each one's STATE comes back) until
// `count` have ended, sampling the pool size every 50 ms meanwhile.
Burst run_burst(NodeProcess& node, const Task& task, std::size_t count, std::size_t window, PoolTimeline& pool) {
    constexpr auto kSampleEvery = std::chrono::milliseconds(50);
    constexpr std::size_t kFailuresKept = 5;
    Client client(node.endpoint());
    Burst burst;
    auto note_failure = [&](const std::string& what) {
        ++burst.failed;
        if (burst.failures.size() < kFailuresKept) burst.failures.push_back(what);
    };
    std::size_t posted = 0, ended = 0;
    const auto started = Clock::now();
    auto next_sample = started;
    while (ended < count) {
        while (posted - ended < window && posted < count) {
            if (!client.post(task, true)) FAIL("post failed after " << posted << " tasks");
            ++posted;
        }
        auto reply = client.next_reply(std::chrono::seconds(10));
        if (!reply) FAIL("no reply after " << ended << " of " << count << " tasks ended: " << reply.error());
        if (const auto* rejected = std::get_if<zq::Rejected>(&*reply)) {
            note_failure(rejected->id + ": rejected: " + rejected->reason);
            ++ended;
        } else if (const auto* report = std::get_if<zq::StateReport>(&*reply); report && report->job.terminal()) {
            if (report->job.succeeded()) {
                ++burst.succeeded;
            } else {
                note_failure(report->job.id + ": " + std::string(zq::to_string(report->job.state)) + ": " +
                             report->job.error);
            }
            ++ended;
        }
        if (Clock::now() >= next_sample) {
            pool.sample();
            next_sample = Clock::now() + kSampleEvery;
        }
    }
    burst.drain_seconds = seconds_since(started);
    return burst;
}

std::uint64_t total_worker_rss(const nlohmann::json& status) {
    std::uint64_t total = 0;
    for (const auto& worker : status["workers"]) total += worker["rss"].get<std::uint64_t>();
    return total;
}

// Under AddressSanitizer freed memory sits in quarantine, so resident memory says nothing
// about leaks there (LeakSanitizer does that job).
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kResidentMemoryMeaningful = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kResidentMemoryMeaningful = false;
#else
constexpr bool kResidentMemoryMeaningful = true;
#endif
#else
constexpr bool kResidentMemoryMeaningful = true;
#endif

// The burst cases: `count` tasks through a pool of min_workers..max_workers whose idle
// workers retire after one second. Prints what it saw: the figures are the pool's behaviour
// under load, measured on the machine that runs the test.
void burst_grows_and_shrinks_the_pool(const Task& task, std::size_t count, unsigned min_workers, unsigned max_workers) {
    constexpr std::size_t kWindow = 1000;
    constexpr std::uint64_t kMegabyte = 1024 * 1024;
    NodeProcess node({.config = "worker_idle_timeout = 1\n", .min_workers = min_workers, .max_workers = max_workers});
    StatusProbe probe(node);
    REQUIRE(wait_until([&] { return probe.pool_size() == min_workers; }));
    const std::uint64_t node_rss_idle = resident_bytes(node.pid());
    const std::uint64_t workers_rss_idle = total_worker_rss(probe.status());
    REQUIRE(node_rss_idle > 0);

    PoolTimeline pool(node);
    pool.sample();
    Burst burst = run_burst(node, task, count, kWindow, pool);
    INFO("pool size (seconds:size): " << pool.changes());
    for (const auto& failure : burst.failures) UNSCOPED_INFO(failure);
    CHECK(burst.failed == 0);
    CHECK(burst.succeeded == count);
    CHECK(pool.largest() == max_workers);

    // Idle workers above min_workers retire after worker_idle_timeout (checked every second).
    const auto drained = Clock::now();
    CHECK(wait_until([&] { return pool.sample() == min_workers; }));
    const double shrink_seconds = seconds_since(drained);
    auto after = probe.status();
    CHECK(after["jobs"]["succeeded"] == count);
    CHECK(after["pending"] == 0);

    // A node keeps nothing of a job once it has ended, so a burst may only grow it by what is
    // bounded whatever the count: the jobs in flight (the window of 1,000), SQLite's page
    // cache (2 MB by default) and what malloc keeps of freed memory. Measured: an idle node
    // of 9.4 MB grows by about 2.5 MB over 10,000 jobs. 8 MB is three times that, so the check
    // is not flaky, and it still catches a leak of about 550 bytes per job or more.
    const std::uint64_t node_rss_after = resident_bytes(node.pid());
    if (kResidentMemoryMeaningful) CHECK(node_rss_after <= node_rss_idle + 8 * kMegabyte);

    std::printf(
        "burst of %zu %s (pool %u..%u, window %zu): drained in %.2f s (%.0f tasks/s), largest pool %zu, "
        "back to %u workers %.1f s later\n"
        "  pool size (s:size): %s\n"
        "  node rss: idle %.1f MB, after %.1f MB; workers' rss (all): idle %.1f MB, after %.1f MB\n",
        count, task.name.c_str(), min_workers, max_workers, kWindow, burst.drain_seconds,
        static_cast<double>(count) / burst.drain_seconds, pool.largest(), min_workers, shrink_seconds,
        pool.changes().c_str(), static_cast<double>(node_rss_idle) / kMegabyte,
        static_cast<double>(node_rss_after) / kMegabyte, static_cast<double>(workers_rss_idle) / kMegabyte,
        static_cast<double>(total_worker_rss(after)) / kMegabyte);
}

bool contains(const std::vector<int>& pids, int pid) { return std::find(pids.begin(), pids.end(), pid) != pids.end(); }

bool none_alive(const std::vector<int>& pids) { return std::none_of(pids.begin(), pids.end(), process_alive); }

// Live processes a node started, found even after they were reparented: its workers carry
// ZQ_PARENT_PID=<node pid> in their environment and pass it on to exec tasks' commands.
std::vector<int> processes_started_by(int node_pid) {
    // Entries of /proc/PID/environ end with NUL; a leading NUL makes every entry NUL-framed.
    const std::string entry =
        std::string(1, '\0') + zq::worker_link::kParentPidEnv + "=" + std::to_string(node_pid) + '\0';
    std::vector<int> found;
    for (const auto& process : std::filesystem::directory_iterator("/proc")) {
        const std::string name = process.path().filename();
        if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
        std::ifstream file(process.path() / "environ", std::ios::binary);  // unreadable for others' processes
        const std::string environment =
            '\0' + std::string(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
        if (environment.find(entry) != std::string::npos && process_alive(std::stoi(name))) {
            found.push_back(std::stoi(name));
        }
    }
    return found;
}

// Waits until the pool is exactly one worker, other than those in `previous`; its pid or 0.
int single_new_worker(NodeProcess& node, const std::vector<int>& previous) {
    int pid = 0;
    wait_until([&] {
        auto pids = node.worker_pids();
        if (pids.size() != 1 || contains(previous, pids[0])) return false;
        pid = pids[0];
        return true;
    });
    return pid;
}

void require_succeeds(Client& client, const Task& task) {
    auto submitted = client.submit(task);
    REQUIRE(submitted);
    auto job = client.wait(submitted->id, kDeadline);
    REQUIRE(job);
    INFO(job->id << " " << zq::to_string(job->state) << ": " << job->error);
    CHECK(job->state == JobState::succeeded);
}

}  // namespace

TEST_CASE("a burst of 10,000 no-op tasks all succeed, the pool grows to max_workers and shrinks back to min_workers") {
    burst_grows_and_shrinks_the_pool(Task("zq.noop"), 10'000, 2, 6);
}

TEST_CASE(
    "a burst of 10,000 zq.sleep 0.01 tasks all succeed, the pool grows to max_workers and shrinks back to "
    "min_workers") {
    // 10,000 x 10 ms over 8 workers is 12.5 s of sleeping at the least.
    burst_grows_and_shrinks_the_pool(Task("zq.sleep").with_args(0.01), 10'000, 2, 8);
}

TEST_CASE("submissions beyond max_pending are rejected with node busy and nothing accepted is lost") {
    NodeProcess node({.config = "max_pending = 5\n", .min_workers = 1, .max_workers = 1});
    Client client(node.endpoint());
    const auto blocker = occupy_worker(node, client);
    std::vector<std::string> queued;
    for (int i = 0; i < 4; ++i) {
        auto submitted = client.submit(Task("zq.echo").with_args(i));
        REQUIRE(submitted);
        queued.push_back(submitted->id);
    }

    auto refused = client.submit(Task("zq.noop"));
    REQUIRE_FALSE(refused);
    CHECK(refused.error_code() == zq::ErrorCode::failed);
    CHECK_THAT(refused.error(), Catch::Contains("node busy"));
    auto from_cli = run_command({ZQ_BIN_DIR "/zq-send", "zq.noop"}, kDeadline, {"ZQ_NODE=" + node.endpoint()});
    CHECK(from_cli.exit_code == 1);
    CHECK_THAT(from_cli.err, Catch::Contains("node busy"));
    auto status = node.status();
    CHECK(status["pending"] == 5);
    CHECK(status["messages"]["rejected"] == 2);

    // The blocker's worker goes; the blocker fails and every queued job still runs.
    REQUIRE(::kill(blocker.worker, SIGKILL) == 0);
    auto lost = client.wait(blocker.id, kDeadline);
    REQUIRE(lost);
    CHECK(lost->state == JobState::error);
    CHECK_THAT(lost->error, Catch::Contains("signal 9"));
    for (std::size_t i = 0; i < queued.size(); ++i) {
        auto job = client.wait(queued[i], kDeadline);
        REQUIRE(job);
        CHECK(job->state == JobState::succeeded);
        CHECK(job->result_as<std::tuple<int>>() == std::tuple<int>(static_cast<int>(i)));
    }
    // With room again, the node takes new work.
    require_succeeds(client, Task("zq.noop"));
}

TEST_CASE("SIGTERM to a busy worker ends its job in error naming the signal and a replacement is spawned") {
    NodeProcess node({.min_workers = 1, .max_workers = 1});
    Client client(node.endpoint());
    const auto [id, victim] = occupy_worker(node, client);

    REQUIRE(::kill(victim, SIGTERM) == 0);
    auto job = client.wait(id, kDeadline);
    REQUIRE(job);
    CHECK(job->state == JobState::error);
    CHECK_THAT(job->error,
               Catch::Contains("signal 15") && Catch::Contains("SIGTERM") && Catch::Contains(std::to_string(victim)));

    CHECK(single_new_worker(node, {victim}) > 0);
    require_succeeds(client, Task("zq.noop"));
}

TEST_CASE("SIGKILL to every worker at once: the pool recovers and new jobs run") {
    NodeProcess node({.min_workers = 3, .max_workers = 3});
    Client client(node.endpoint());
    std::vector<std::string> running;
    for (int i = 0; i < 2; ++i) {
        auto submitted = client.submit(Task("zq.sleep").with_args(60));
        REQUIRE(submitted);
        REQUIRE(node.worker_running(submitted->id) > 0);
        running.push_back(submitted->id);
    }
    const auto before = node.worker_pids();
    REQUIRE(before.size() == 3);

    for (int pid : before) REQUIRE(::kill(pid, SIGKILL) == 0);
    for (const auto& id : running) {
        auto job = client.wait(id, kDeadline);
        REQUIRE(job);
        CHECK(job->state == JobState::error);
        CHECK_THAT(job->error, Catch::Contains("signal 9") && Catch::Contains("SIGKILL"));
    }
    CHECK(wait_until([&] {
        auto status = node.status();
        if (status["workers"].size() != 3) return false;
        for (const auto& worker : status["workers"]) {
            if (contains(before, worker["pid"].get<int>()) || !worker["ready"].get<bool>()) return false;
        }
        return true;
    }));

    std::vector<std::string> after;
    for (int i = 0; i < 6; ++i) {
        auto submitted = client.submit(Task("zq.echo").with_args(i));
        REQUIRE(submitted);
        after.push_back(submitted->id);
    }
    require_all_succeeded(client, after);
}

TEST_CASE("SIGTERM to zq-node lets running jobs finish within shutdown_grace, then exits 0 and leaves no children") {
    NodeProcess node({.config = "shutdown_grace = 10\n", .min_workers = 1, .max_workers = 2});
    // The submitter watches its job: it hears the outcome before the node goes.
    Client watcher(node.endpoint());
    Task sleeper("zq.sleep");
    sleeper.with_args(3).with_id(zq::new_job_id());
    REQUIRE(watcher.post(sleeper, true));
    auto accepted = watcher.next_reply(kDeadline);
    REQUIRE(accepted);
    REQUIRE(std::holds_alternative<zq::Accepted>(*accepted));
    REQUIRE(node.worker_running(sleeper.id) > 0);
    const auto workers = node.worker_pids();
    const int node_pid = node.pid();

    node.signal(SIGTERM);
    const auto signaled = Clock::now();
    // Until it stops, the node refuses new work with the reason. A submission that got in
    // before the signal was handled is journaled and runs after the next start.
    Client late(node.endpoint());
    std::vector<std::string> got_in;
    std::string refusal;
    CHECK(wait_until([&] {
        auto submitted = late.submit(Task("zq.noop"), std::chrono::seconds(1));
        if (submitted)
            got_in.push_back(submitted->id);
        else
            refusal = submitted.error();
        return !submitted;
    }));
    CHECK_THAT(refusal, Catch::Contains("node shutting down"));

    bool heard = false;
    while (!heard) {
        auto reply = watcher.next_reply(kDeadline);
        REQUIRE(reply);
        if (const auto* report = std::get_if<zq::StateReport>(&*reply); report && report->job.id == sleeper.id) {
            CHECK(report->job.state == JobState::succeeded);
            heard = report->job.terminal();
        }
    }
    const int exit_code = node.wait_exit();
    INFO("node log:\n" << node.log());
    CHECK(exit_code == 0);
    // It waited for the job (3 s), not for the whole grace (10 s).
    CHECK(seconds_since(signaled) < 8.0);
    CHECK(none_alive(workers));
    CHECK(processes_started_by(node_pid).empty());

    node.start();
    Client client(node.endpoint());
    auto job = client.status(sleeper.id);
    REQUIRE(job);
    CHECK(job->state == JobState::succeeded);
    require_all_succeeded(client, got_in);
}

TEST_CASE("SIGTERM to zq-node with a job that outlives shutdown_grace ends it in error with node shutting down") {
    NodeProcess node({.config = "shutdown_grace = 1\n", .min_workers = 1, .max_workers = 1});
    std::string id;
    {
        Client client(node.endpoint());
        auto submitted = client.submit(Task("zq.sleep").with_args(60));
        REQUIRE(submitted);
        id = submitted->id;
    }
    REQUIRE(node.worker_running(id) > 0);
    const auto workers = node.worker_pids();

    node.signal(SIGTERM);
    const auto signaled = Clock::now();
    const int exit_code = node.wait_exit();
    INFO("node log:\n" << node.log());
    CHECK(exit_code == 0);
    // The grace (1 s), then at most the workers' 2 s between SIGTERM and SIGKILL.
    CHECK(seconds_since(signaled) < 6.0);
    CHECK(none_alive(workers));

    node.start();
    Client client(node.endpoint());
    auto job = client.status(id);
    REQUIRE(job);
    CHECK(job->state == JobState::error);
    CHECK(job->error == "node shutting down");
}

TEST_CASE("SIGKILL to zq-node leaves no orphans within 2 s") {
    NodeProcess node({.config = "[tasks.nap]\ncommand = [\"/bin/sleep\"]\n", .min_workers = 2, .max_workers = 2});
    std::string nap_id, sleep_id;
    {
        Client client(node.endpoint());
        auto nap = client.submit(Task("nap").with_args(60));
        auto sleep = client.submit(Task("zq.sleep").with_args(60));
        REQUIRE(nap);
        REQUIRE(sleep);
        nap_id = nap->id;
        sleep_id = sleep->id;
    }
    const int nap_worker = node.worker_running(nap_id);
    REQUIRE(nap_worker > 0);
    REQUIRE(node.worker_running(sleep_id) > 0);
    // The exec task's command is the nap worker's child: the node's grandchild.
    std::vector<int> exec_children;
    REQUIRE(wait_until([&] {
        exec_children = child_pids(nap_worker);
        return !exec_children.empty();
    }));
    auto doomed = node.worker_pids();
    REQUIRE(doomed.size() == 2);
    doomed.insert(doomed.end(), exec_children.begin(), exec_children.end());
    const int node_pid = node.pid();
    REQUIRE(processes_started_by(node_pid).size() == doomed.size());

    node.kill_hard();
    CHECK(wait_until([&] { return none_alive(doomed) && processes_started_by(node_pid).empty(); },
                     std::chrono::seconds(2)));

    node.start();
    Client client(node.endpoint());
    for (const auto& id : {nap_id, sleep_id}) {
        auto job = client.status(id);
        REQUIRE(job);
        CHECK(job->state == JobState::error);
        CHECK(job->error == "node restarted while the job was running");
    }
}

TEST_CASE("max_tasks_per_worker recycles a worker between tasks") {
    NodeProcess node({.config = "max_tasks_per_worker = 3\n", .min_workers = 1, .max_workers = 1});
    Client client(node.endpoint());
    std::vector<int> seen;
    for (int round = 0; round < 3; ++round) {
        const int pid = single_new_worker(node, seen);
        REQUIRE(pid > 0);
        seen.push_back(pid);
        for (int task = 1; task <= 3; ++task) {
            require_succeeds(client, Task("zq.echo").with_args(round, task));
            // The worker takes its third task, then goes; a fresh one takes its place.
            if (task < 3) CHECK(node.worker_pids() == std::vector<int>{pid});
        }
    }
}

TEST_CASE("max_worker_rss recycles a worker that grew too large") {
    // Every worker is above 1 byte after its task, so each one runs exactly one.
    NodeProcess node({.config = "max_worker_rss = 1\n", .min_workers = 1, .max_workers = 1});
    Client client(node.endpoint());
    std::vector<int> seen;
    for (int round = 0; round < 3; ++round) {
        const int pid = single_new_worker(node, seen);
        REQUIRE(pid > 0);
        seen.push_back(pid);
        require_succeeds(client, Task("zq.echo").with_args(round));
    }
    CHECK(single_new_worker(node, seen) > 0);
}

TEST_CASE("zq-node reload recycles every worker after its running task finishes") {
    NodeProcess node({.min_workers = 2, .max_workers = 2});
    Client client(node.endpoint());
    auto submitted = client.submit(Task("zq.sleep").with_args(2));
    REQUIRE(submitted);
    const int busy = node.worker_running(submitted->id);
    REQUIRE(busy > 0);
    const auto before = node.worker_pids();
    REQUIRE(before.size() == 2);

    auto reload = run_command({ZQ_BIN_DIR "/zq-node", "reload", "--node", node.endpoint()});
    CHECK(reload.exit_code == 0);
    CHECK_THAT(reload.out, Catch::Contains("reload: ok"));
    // The busy worker keeps its task until it is done.
    CHECK(node.worker_running(submitted->id) == busy);

    auto job = client.wait(submitted->id, kDeadline);
    REQUIRE(job);
    CHECK(job->state == JobState::succeeded);
    CHECK(wait_until([&] {
        auto pids = node.worker_pids();
        return pids.size() == 2 &&
               std::none_of(pids.begin(), pids.end(), [&](int pid) { return contains(before, pid); });
    }));
    require_succeeds(client, Task("zq.noop"));
}

TEST_CASE(
    "status shows each worker's pid, sent, finished, qsize, rss and running task, the pool sizes and job "
    "counts") {
    NodeProcess node({.min_workers = 2, .max_workers = 2});
    Client client(node.endpoint());
    require_succeeds(client, Task("zq.noop"));
    std::vector<std::string> running;
    for (int i = 0; i < 2; ++i) {
        auto submitted = client.submit(Task("zq.sleep").with_args(60));
        REQUIRE(submitted);
        running.push_back(submitted->id);
    }
    auto queued = client.submit(Task("zq.noop"));
    REQUIRE(queued);
    std::vector<int> running_on;
    for (const auto& id : running) running_on.push_back(node.worker_running(id));

    auto status = node.status();
    CHECK(status["pool"] == nlohmann::json({{"min", 2}, {"max", 2}, {"size", 2}, {"busy", 2}}));
    CHECK(status["pending"] == 3);
    CHECK(status["jobs"]["succeeded"] == 1);
    CHECK(status["jobs"]["running"] == 2);
    CHECK(status["jobs"]["queued"] == 1);
    for (const char* state : {"accepted", "queued", "running", "succeeded", "failed", "error", "canceled", "retrying",
                              "waiting", "pending"}) {
        CHECK(status["jobs"].contains(state));
    }
    std::uint64_t sent = 0, finished = 0;
    REQUIRE(status["workers"].size() == 2);
    for (const auto& worker : status["workers"]) {
        const int pid = worker["pid"].get<int>();
        auto at = std::find(running_on.begin(), running_on.end(), pid);
        REQUIRE(at != running_on.end());
        const std::string& id = running[static_cast<std::size_t>(at - running_on.begin())];
        CHECK(worker["task"] == nlohmann::json({{"id", id}, {"name", "zq.sleep"}}));
        CHECK(worker["qsize"] == 1);
        CHECK(worker["qsize"].get<std::uint64_t>() ==
              worker["sent"].get<std::uint64_t>() - worker["finished"].get<std::uint64_t>());
        CHECK(worker["rss"].get<std::uint64_t>() > 0);
        sent += worker["sent"].get<std::uint64_t>();
        finished += worker["finished"].get<std::uint64_t>();
    }
    CHECK(sent == 3);
    CHECK(finished == 1);

    auto text = run_command({ZQ_BIN_DIR "/zq-node", "status", "--node", node.endpoint()});
    REQUIRE(text.exit_code == 0);
    CHECK_THAT(text.out, Catch::Contains("pool size=2 min=2 max=2 busy=2"));
    for (std::size_t i = 0; i < running.size(); ++i) {
        CHECK_THAT(text.out, Catch::Contains("worker[pid:" + std::to_string(running_on[i]) + "]") &&
                                 Catch::Contains("qsize=1 rss=") &&
                                 Catch::Contains("running " + running[i] + " zq.sleep"));
    }
    CHECK_THAT(text.out, Catch::Contains(" queued=1 ") && Catch::Contains(" running=2 "));
}

TEST_CASE("a node restarted with jobs queued in its journal runs no more than max_workers") {
    NodeProcess node({.min_workers = 2, .max_workers = 2});
    std::vector<std::string> queued;
    {
        Client client(node.endpoint());
        occupy_worker(node, client);
        occupy_worker(node, client);
        for (int i = 0; i < 4; ++i) {
            auto sleeper = client.submit(Task("zq.sleep").with_args(60));
            REQUIRE(sleeper);
            queued.push_back(sleeper->id);
        }
    }
    node.kill_hard();
    node.start();

    // Recovery queues four jobs before the pool starts: it must still stop at two workers.
    Client client(node.endpoint());
    REQUIRE(wait_until([&] { return node.status()["jobs"]["running"] == 2; }));
    auto status = node.status();
    CHECK(status["pool"]["size"] == 2);
    CHECK(status["workers"].size() == 2);
    CHECK(status["jobs"]["queued"] == 2);
    CHECK(child_pids(node.pid()).size() == 2);
    for (const auto& id : queued) REQUIRE(client.cancel(id));
}
