// The run policy without a pool: which limits a run gets, and how a run that did not
// succeed ends (canceled, failed with the limit it hit, or retried while attempts remain).
#include "run_policy.hpp"

#include <catch2/catch.hpp>

using zq::JobState;
using zq::node::JobRecord;
using zq::node::StopReason;
using zq::node::TaskTable;
using zq::node::unsuccessful_end;

namespace {

JobRecord job_of(const std::string& task) { return JobRecord{.id = "j", .task = task}; }

TaskTable tasks() {
    TaskTable tasks;
    tasks["slow"].soft_time_limit = 2;
    tasks["slow"].hard_time_limit = 4;
    tasks["convert"].command = {"/usr/bin/convert", "--quiet"};
    return tasks;
}

}  // namespace

TEST_CASE("a job's own limits win, and its task's settings supply the ones it leaves unset") {
    JobRecord job = job_of("slow");
    CHECK(zq::node::time_limits(job, tasks()) == std::pair<double, double>{2, 4});
    job.soft_time_limit = 1;
    CHECK(zq::node::time_limits(job, tasks()) == std::pair<double, double>{1, 4});
    CHECK(zq::node::time_limits(job_of("unknown"), tasks()) == std::pair<double, double>{0, 0});
}

TEST_CASE("a run request carries the job and, for an exec task, its command") {
    TaskTable table = tasks();
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
    auto soft = unsuccessful_end(job, StopReason::soft_time_limit, "", tasks());
    CHECK(soft.state == JobState::failed);
    CHECK(soft.error == "soft time limit (2s) exceeded");
    auto hard = unsuccessful_end(job, StopReason::hard_time_limit, "", tasks());
    CHECK(hard.error == "hard time limit (4s) exceeded");
}

TEST_CASE("a cancel wins over every other reason the run stopped") {
    JobRecord job = job_of("slow");
    auto end = unsuccessful_end(job, StopReason::canceled, "stopped by SIGUSR1", tasks());
    CHECK(end.state == JobState::canceled);
    CHECK(end.error == "canceled while running: stopped by SIGUSR1");
    job.cancel_requested = true;
    CHECK(unsuccessful_end(job, StopReason::hard_time_limit, "killed", tasks()).state == JobState::canceled);
}

TEST_CASE("a failed run is retried while attempts remain, then fails with the task's error") {
    JobRecord job = job_of("flaky");
    job.max_retries = 2;
    for (std::uint32_t attempts = 1; attempts <= 2; ++attempts) {
        job.attempts = attempts;
        auto end = unsuccessful_end(job, StopReason::none, "ValueError", tasks());
        CHECK(end.state == JobState::retrying);
        CHECK(end.error == "ValueError");
    }
    job.attempts = 3;
    auto end = unsuccessful_end(job, StopReason::none, "ValueError", tasks());
    CHECK(end.state == JobState::failed);
    CHECK(end.error == "ValueError");
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
