// Retries: a failed run is tried again as the job's retry policy says — after a fixed delay
// or an exponential backoff with full jitter — when the task asks for it (zq::Retry, or an
// exec task's retry exit code), and after a dead worker only with retry_on_worker_lost. A
// retrying job shows its attempts and next attempt, and a restart keeps both.
#include "support/node_process.hpp"

#include <zq/client.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <csignal>
#include <fstream>

using namespace zq::test;
using zq::Client;
using zq::JobState;
using zq::Task;

namespace {

// An exec task `flaky FILE N`: appends the unix ms of each run to FILE, and fails (exit 1)
// until FILE has N lines, then succeeds.
constexpr const char* kFlakyConfig =
    "[tasks.flaky]\n"
    "command = [\"/bin/sh\", \"-c\", \"date +%s%3N >> \\\"$0\\\"; [ $(wc -l < \\\"$0\\\") -ge $1 ]\"]\n";

std::vector<double> run_times(const std::string& path) {
    std::ifstream file(path);
    std::vector<double> times;
    for (std::int64_t ms; file >> ms;) times.push_back(static_cast<double>(ms) / 1000.0);
    return times;
}

std::vector<double> gaps(const std::vector<double>& times) {
    std::vector<double> gaps;
    for (std::size_t i = 1; i < times.size(); ++i) gaps.push_back(times[i] - times[i - 1]);
    return gaps;
}

// Slack for the scheduling of a run after its time comes (timer, turn, worker, sh).
constexpr double kSlack = 0.35;

}  // namespace

TEST_CASE("backoff gaps double from the base, capped, and the job succeeds on its last attempt") {
    NodeProcess node({.config = kFlakyConfig, .min_workers = 1, .max_workers = 1});
    Client client(node.endpoint());
    TempDir out;
    const std::string file = out.path() + "/runs";
    Task task("flaky");
    task.with_args(file, 5);
    task.max_retries = 4;
    task.retry_backoff = 0.2;
    task.retry_backoff_max = 0.8;
    auto submitted = client.submit(task);
    REQUIRE(submitted);
    auto job = client.wait(submitted->id, kDeadline);
    REQUIRE(job);
    CHECK(job->state == JobState::succeeded);
    CHECK(job->attempts == 5);
    auto between = gaps(run_times(file));
    REQUIRE(between.size() == 4);
    const double expected[] = {0.2, 0.4, 0.8, 0.8};
    for (std::size_t i = 0; i < between.size(); ++i) {
        INFO("gap " << i + 1);
        CHECK(between[i] >= expected[i] - 0.01);
        CHECK(between[i] <= expected[i] + kSlack);
    }
}

TEST_CASE("with jitter each backoff gap stays between 0 and its bound") {
    NodeProcess node({.config = kFlakyConfig, .min_workers = 1, .max_workers = 1});
    Client client(node.endpoint());
    TempDir out;
    const std::string file = out.path() + "/runs";
    Task task("flaky");
    task.with_args(file, 6);
    task.max_retries = 5;
    task.retry_backoff = 0.1;
    task.retry_jitter = true;
    auto submitted = client.submit(task);
    REQUIRE(submitted);
    auto job = client.wait(submitted->id, kDeadline);
    REQUIRE(job);
    CHECK(job->state == JobState::succeeded);
    auto between = gaps(run_times(file));
    REQUIRE(between.size() == 5);
    double bound = 0.1;
    for (double gap : between) {
        CHECK(gap >= 0);
        CHECK(gap <= bound + kSlack);
        bound *= 2;
    }
}

TEST_CASE("a retrying job shows its attempts and next attempt, and a restart keeps them") {
    NodeProcess node({.config = kFlakyConfig, .min_workers = 1, .max_workers = 1});
    TempDir out;
    const std::string file = out.path() + "/runs";
    std::string id;
    zq::JobInfo before;
    {
        Client client(node.endpoint());
        Task task("flaky");
        task.with_args(file, 2);
        task.max_retries = 3;
        task.retry_delay = 3;
        auto submitted = client.submit(task);
        REQUIRE(submitted);
        id = submitted->id;
        REQUIRE(wait_until([&] {
            auto job = client.status(id);
            if (job) before = *job;
            return job && job->state == JobState::retrying;
        }));
    }
    CHECK(before.attempts == 1);
    CHECK(before.next_attempt_ms > 0);
    node.kill_hard();
    node.start();
    Client client(node.endpoint());
    auto after = client.status(id);
    REQUIRE(after);
    CHECK(after->state == JobState::retrying);
    CHECK(after->attempts == 1);
    CHECK(after->next_attempt_ms == before.next_attempt_ms);
    auto job = client.wait(id, kDeadline);
    REQUIRE(job);
    CHECK(job->state == JobState::succeeded);
    CHECK(job->attempts == 2);
    auto runs = run_times(file);
    REQUIRE(runs.size() == 2);
    CHECK(runs[1] * 1000 >= static_cast<double>(before.next_attempt_ms) - 1);
}

TEST_CASE("a worker SIGKILLed with retry_on_worker_lost runs its job again, exactly once more") {
    NodeProcess node({.config = "[tasks.slow_once]\n"
                                "command = [\"/bin/sh\", \"-c\", \"date +%s%3N >> \\\"$0\\\"; "
                                "[ $(wc -l < \\\"$0\\\") -ge 2 ] || exec sleep 60\"]\n",
                      .min_workers = 1,
                      .max_workers = 1});
    Client client(node.endpoint());
    TempDir out;
    const std::string file = out.path() + "/runs";
    Task task("slow_once");
    task.with_args(file);
    task.retry_on_worker_lost = true;
    auto submitted = client.submit(task);
    REQUIRE(submitted);
    int worker = node.worker_running(submitted->id);
    REQUIRE(worker > 0);
    REQUIRE(wait_until([&] { return run_times(file).size() == 1; }));
    ::kill(worker, SIGKILL);
    auto job = client.wait(submitted->id, kDeadline);
    REQUIRE(job);
    CHECK(job->state == JobState::succeeded);
    CHECK(job->attempts == 2);
    CHECK(run_times(file).size() == 2);
}

TEST_CASE("without retry_on_worker_lost a SIGKILLed worker ends its job in error, retries or not") {
    NodeProcess node({.min_workers = 1, .max_workers = 1});
    Client client(node.endpoint());
    Task task("zq.sleep");
    task.with_args(60);
    task.max_retries = 3;
    auto submitted = client.submit(task);
    REQUIRE(submitted);
    int worker = node.worker_running(submitted->id);
    REQUIRE(worker > 0);
    ::kill(worker, SIGKILL);
    auto job = client.wait(submitted->id, kDeadline);
    REQUIRE(job);
    CHECK(job->state == JobState::error);
    CHECK_THAT(job->error, Catch::Contains("signal 9"));
    CHECK(job->attempts == 1);
}

TEST_CASE("a task throwing zq::Retry runs again after its countdown, until its retries are used up") {
    NodeProcess node({.min_workers = 1, .max_workers = 1});
    Client client(node.endpoint());
    Task task("zq.retry");
    task.with_args(0.3);
    task.max_retries = 2;
    task.retry_delay = 30;  // the countdown the task asks for wins
    const auto started = std::chrono::steady_clock::now();
    auto submitted = client.submit(task);
    REQUIRE(submitted);
    auto job = client.wait(submitted->id, kDeadline);
    REQUIRE(job);
    const auto took = std::chrono::steady_clock::now() - started;
    CHECK(job->state == JobState::failed);
    CHECK(job->attempts == 3);
    CHECK_THAT(job->error, Catch::Contains("retries are used up") && Catch::Contains("retry asked for by zq.retry"));
    CHECK(took >= std::chrono::milliseconds(600));
    CHECK(took < std::chrono::seconds(10));
}

TEST_CASE("an exec task exiting with its retry_exit_code is retried, and any other failure is not") {
    NodeProcess node({.config = "[tasks.tempfail]\n"
                                "command = [\"/bin/sh\", \"-c\", \"echo run >> \\\"$0\\\"; "
                                "[ $(wc -l < \\\"$0\\\") -ge 2 ] || exit $1\"]\n"
                                "retry_exit_code = 75\nretries = 2\n",
                      .min_workers = 1,
                      .max_workers = 1});
    Client client(node.endpoint());
    TempDir out;
    auto retried = client.submit(Task("tempfail").with_args(out.path() + "/a", 75));
    REQUIRE(retried);
    auto job = client.wait(retried->id, kDeadline);
    REQUIRE(job);
    CHECK(job->state == JobState::succeeded);
    CHECK(job->attempts == 2);
    // A task that names its retry exit code is retried for that code only.
    auto failed = client.submit(Task("tempfail").with_args(out.path() + "/b", 3));
    REQUIRE(failed);
    job = client.wait(failed->id, kDeadline);
    REQUIRE(job);
    CHECK(job->state == JobState::failed);
    CHECK(job->attempts == 1);
    CHECK_THAT(job->error, Catch::Contains("exited with status 3"));
}
