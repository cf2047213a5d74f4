#include "run_policy.hpp"

#include "retry_policy.hpp"

#include <algorithm>
#include <cstdio>
#include <tuple>

namespace zq::node {
namespace {

std::string seconds_text(double seconds) {
    char text[32];
    std::snprintf(text, sizeof text, "%gs", seconds);
    return text;
}

const TaskSettings* settings_of(const JobRecord& job, const Config& config) {
    auto settings = config.tasks.find(job.task);
    return settings == config.tasks.end() ? nullptr : &settings->second;
}

}  // namespace

std::pair<double, double> time_limits(const JobRecord& job, const Config& config) {
    double soft = job.soft_time_limit, hard = job.hard_time_limit;
    if (const TaskSettings* task = settings_of(job, config)) {
        if (soft <= 0) soft = task->soft_time_limit;
        if (hard <= 0) hard = task->hard_time_limit;
    }
    if (soft <= 0) soft = config.soft_time_limit;
    if (hard <= 0) hard = config.hard_time_limit;
    return {soft, hard};
}

RunRequest run_request(const JobRecord& job, const Config& config) {
    RunRequest request{job.id, job.task, job.args, job.kwargs};
    std::tie(request.soft_time_limit, request.hard_time_limit) = time_limits(job, config);
    if (const TaskSettings* task = settings_of(job, config); task && task->exec()) {
        request.exec = &task->command;
        request.retry_exit_code = task->retry_exit_code;
    }
    return request;
}

std::size_t prefetch_for(const JobRecord& job, bool returned, const Config& config) {
    if (returned) return 1;
    if (const TaskSettings* task = settings_of(job, config); task && task->prefetch) return task->prefetch;
    if (auto queue = config.queue_settings.find(job.queue);
        queue != config.queue_settings.end() && queue->second.prefetch) {
        return queue->second.prefetch;
    }
    return config.prefetch;
}

RunEnd unsuccessful_end(const JobRecord& job, const RunFailure& failure, const Config& config, double draw) {
    auto [soft, hard] = time_limits(job, config);
    // A cancel requested while the task was stopping for another reason is still a cancel.
    if (failure.reason == StopReason::canceled || job.cancel_requested) {
        return {JobState::canceled, "canceled while running: " + failure.error};
    }
    if (failure.reason == StopReason::soft_time_limit) {
        return {JobState::failed, "soft time limit (" + seconds_text(soft) + ") exceeded"};
    }
    if (failure.reason == StopReason::hard_time_limit) {
        return {JobState::failed, "hard time limit (" + seconds_text(hard) + ") exceeded"};
    }
    // An exec task that names the exit status asking for a retry is retried for it alone.
    const TaskSettings* task = settings_of(job, config);
    if (task && task->retry_exit_code > 0 && !failure.retry.requested && !failure.worker_lost) {
        return {JobState::failed, failure.error};
    }
    // A worker that died under the task (killed, crashed) is zq's failure, not the task's.
    const JobState gave_up = failure.worker_lost ? JobState::error : JobState::failed;
    const RetryPolicy policy = retry_policy(job, config.tasks);
    std::uint32_t allowed = policy.max_retries;
    if (failure.worker_lost) {
        if (!policy.on_worker_lost) return {gave_up, failure.error};
        // Opting in promises another run after a lost worker, even without a retry count.
        allowed = std::max<std::uint32_t>(allowed, 1);
    }
    // `attempts` counts the run that just ended: with max_retries 2 there are three runs.
    if (job.attempts > allowed) {
        if (!failure.retry.requested) return {gave_up, failure.error};
        return {JobState::failed, "the task asked for a retry, but its " + std::to_string(allowed) +
                                      " retries are used up: " + failure.error};
    }
    double delay = failure.retry.countdown >= 0 ? failure.retry.countdown
                                                : retry_delay_seconds(policy, job.attempts, draw);
    return {JobState::retrying, failure.error, delay};
}

}  // namespace zq::node
