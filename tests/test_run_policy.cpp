// The run policy without a pool: which limits a run gets, and how a run that did not
// succeed ends (canceled, failed with the limit it hit, or retried while attempts remain),
// and how long each retry waits.
#include "retry_policy.hpp"
#include "run_policy.hpp"

#include <catch2/catch.hpp>

using zq::JobState;
using zq::node::Config;
using zq::node::JobRecord;
using zq::node::RunEnd;
using zq::node::RunFailure;
using zq::node::StopReason;
using zq::node::unsuccessful_end;

namespace {

JobRecord job_of(const std::string& task) { return JobRecord{.id = "j", .task = task}; }

Config tasks() {
    Config config;
    config.tasks["slow"].soft_time_limit = 2;
    config.tasks["slow"].hard_time_limit = 4;
    config.tasks["convert"].command = {"/usr/bin/convert", "--quiet"};
    return config;
}

RunEnd end_of(const JobRecord& job, StopReason reason, const std::string& error, const Config& config = tasks()) {
    return unsuccessful_end(job, RunFailure{reason, error}, config, 0.5);
}

}  // namespace

TEST_CASE("a job's own limits win, and its task's settings supply the ones it leaves unset") {
    JobRecord job = job_of("slow");
    CHECK(zq::node::time_limits(job, tasks()) == std::pair<double, double>{2, 4});
    job.soft_time_limit = 1;
    CHECK(zq::node::time_limits(job, tasks()) == std::pair<double, double>{1, 4});
    CHECK(zq::node::time_limits(job_of("unknown"), tasks()) == std::pair<double, double>{0, 0});
    // The node's top-level limits are the last default.
    Config config = tasks();
    config.soft_time_limit = 7;
    config.hard_time_limit = 9;
    CHECK(zq::node::time_limits(job_of("unknown"), config) == std::pair<double, double>{7, 9});
    CHECK(zq::node::time_limits(job_of("slow"), config) == std::pair<double, double>{2, 4});
}

TEST_CASE("a run request carries the job and, for an exec task, its command") {
    Config table = tasks();
    JobRecord job = job_of("convert");
    auto request = zq::node::run_request(job, table);
    CHECK(request.id == "j");
    CHECK(request.task == "convert");
    REQUIRE(request.exec != nullptr);
    CHECK(request.exec->front() == "/usr/bin/convert");
    CHECK(zq::node::run_request(job_of("slow"), table).exec == nullptr);
    CHECK(zq::node::run_request(job_of("slow"), table).hard_time_limit == 4);
}

TEST_CASE("a run stopped at a time limit fails saying which limit it hit") {
    JobRecord job = job_of("slow");
    job.max_retries = 5;  // limits are not retried
    auto soft = end_of(job, StopReason::soft_time_limit, "");
    CHECK(soft.state == JobState::failed);
    CHECK(soft.error == "soft time limit (2s) exceeded");
    auto hard = end_of(job, StopReason::hard_time_limit, "");
    CHECK(hard.error == "hard time limit (4s) exceeded");
}

TEST_CASE("a cancel wins over every other reason the run stopped") {
    JobRecord job = job_of("slow");
    auto end = end_of(job, StopReason::canceled, "stopped by SIGUSR1");
    CHECK(end.state == JobState::canceled);
    CHECK(end.error == "canceled while running: stopped by SIGUSR1");
    job.cancel_requested = true;
    CHECK(end_of(job, StopReason::hard_time_limit, "killed").state == JobState::canceled);
}

TEST_CASE("a failed run is retried while attempts remain, then fails with the task's error") {
    JobRecord job = job_of("flaky");
    job.max_retries = 2;
    for (std::uint32_t attempts = 1; attempts <= 2; ++attempts) {
        job.attempts = attempts;
        auto end = end_of(job, StopReason::none, "ValueError");
        CHECK(end.state == JobState::retrying);
        CHECK(end.error == "ValueError");
    }
    job.attempts = 3;
    auto end = end_of(job, StopReason::none, "ValueError");
    CHECK(end.state == JobState::failed);
    CHECK(end.error == "ValueError");
}

TEST_CASE("a dead worker's job is retried only with retry_on_worker_lost, at least once, and else ends in error") {
    JobRecord job = job_of("flaky");
    job.attempts = 1;
    const RunFailure lost{StopReason::none, "worker[pid:7] killed by signal 9 (SIGKILL)", true, {}};
    job.max_retries = 3;
    CHECK(unsuccessful_end(job, lost, tasks(), 0.5).state == JobState::error);
    job.max_retries = 0;
    job.retry_on_worker_lost = true;
    CHECK(unsuccessful_end(job, lost, tasks(), 0.5).state == JobState::retrying);
    job.attempts = 2;
    CHECK(unsuccessful_end(job, lost, tasks(), 0.5).state == JobState::error);
    // The task's config may opt in as well.
    Config config = tasks();
    config.tasks["flaky"].retry_on_worker_lost = true;
    job.retry_on_worker_lost = false;
    job.attempts = 1;
    CHECK(unsuccessful_end(job, lost, config, 0.5).state == JobState::retrying);
}

TEST_CASE("a task's retry request waits the countdown it asked for, within its retries") {
    JobRecord job = job_of("flaky");
    job.max_retries = 1;
    job.retry_delay = 30;
    job.attempts = 1;
    RunFailure asked{StopReason::none, "not ready", false, {true, 2.5}};
    auto end = unsuccessful_end(job, asked, tasks(), 0.5);
    CHECK(end.state == JobState::retrying);
    CHECK(end.retry_in == 2.5);
    asked.retry.countdown = -1;  // as the policy says
    CHECK(unsuccessful_end(job, asked, tasks(), 0.5).retry_in == 30);
    job.attempts = 2;
    end = unsuccessful_end(job, asked, tasks(), 0.5);
    CHECK(end.state == JobState::failed);
    CHECK(end.error == "the task asked for a retry, but its 1 retries are used up: not ready");
}

TEST_CASE("backoff doubles the delay per retry up to its cap, and full jitter stays within [0, delay]") {
    zq::node::RetryPolicy policy;
    policy.delay = 5;
    CHECK(zq::node::retry_delay_seconds(policy, 1, 0.3) == 5);
    CHECK(zq::node::retry_delay_seconds(policy, 9, 0.3) == 5);
    policy.backoff = 1;
    policy.backoff_max = 10;
    const double expected[] = {1, 2, 4, 8, 10, 10};
    for (std::uint32_t retry = 1; retry <= 6; ++retry) {
        CHECK(zq::node::retry_delay_seconds(policy, retry, 0.3) == expected[retry - 1]);
    }
    CHECK(zq::node::retry_delay_seconds(policy, 1000, 0.3) == 10);
    policy.backoff_max = 0;  // the default cap
    CHECK(zq::node::retry_delay_seconds(policy, 30, 0.3) == zq::node::kDefaultBackoffMax);
    policy.backoff_max = 10;
    policy.jitter = true;
    for (double draw : {0.0, 0.25, 0.999}) {
        CHECK(zq::node::retry_delay_seconds(policy, 3, draw) == Approx(4 * draw));
    }
}

TEST_CASE("a job's retry policy wins, and its task's [tasks.NAME] settings fill the rest") {
    Config config = tasks();
    auto& flaky = config.tasks["flaky"];
    flaky.retries = 4;
    flaky.retry_backoff = 2;
    flaky.retry_jitter = true;
    JobRecord job = job_of("flaky");
    auto policy = zq::node::retry_policy(job, config.tasks);
    CHECK(policy.max_retries == 4);
    CHECK(policy.backoff == 2);
    CHECK(policy.jitter);
    job.max_retries = 1;
    job.retry_backoff = 0.5;
    policy = zq::node::retry_policy(job, config.tasks);
    CHECK(policy.max_retries == 1);
    CHECK(policy.backoff == 0.5);
}

TEST_CASE("a worker may hold as many tasks as the job's task allows, else its queue, else the node") {
    zq::node::Config config;
    config.prefetch = 16;
    config.tasks["slow"].prefetch = 1;
    config.queue_settings["bulk"].prefetch = 64;
    JobRecord job = job_of("fast");
    CHECK(zq::node::prefetch_for(job, false, config) == 16);
    job.queue = "bulk";
    CHECK(zq::node::prefetch_for(job, false, config) == 64);
    job.task = "slow";
    CHECK(zq::node::prefetch_for(job, false, config) == 1);
    // A job taken back from a worker already waited behind a task: it waits for a free one.
    CHECK(zq::node::prefetch_for(job_of("fast"), true, config) == 1);
}
