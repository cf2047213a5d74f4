#include "run_policy.hpp"

#include <cstdio>
#include <tuple>

namespace zq::node {
namespace {

std::string seconds_text(double seconds) {
    char text[32];
    std::snprintf(text, sizeof text, "%gs", seconds);
    return text;
}

}  // namespace

std::pair<double, double> time_limits(const JobRecord& job, const TaskTable& tasks) {
    double soft = job.soft_time_limit, hard = job.hard_time_limit;
    if (auto settings = tasks.find(job.task); settings != tasks.end()) {
        if (soft <= 0) soft = settings->second.soft_time_limit;
        if (hard <= 0) hard = settings->second.hard_time_limit;
    }
    return {soft, hard};
}

RunRequest run_request(const JobRecord& job, const TaskTable& tasks) {
    RunRequest request{job.id, job.task, job.args, job.kwargs};
    std::tie(request.soft_time_limit, request.hard_time_limit) = time_limits(job, tasks);
    if (auto settings = tasks.find(job.task); settings != tasks.end() && settings->second.exec()) {
        request.exec = &settings->second.command;
    }
    return request;
}

std::size_t prefetch_for(const JobRecord& job, bool returned, const Config& config) {
    if (returned) return 1;
    if (auto task = config.tasks.find(job.task); task != config.tasks.end() && task->second.prefetch) {
        return task->second.prefetch;
    }
    if (auto queue = config.queue_settings.find(job.queue);
        queue != config.queue_settings.end() && queue->second.prefetch) {
        return queue->second.prefetch;
    }
    return config.prefetch;
}

RunEnd unsuccessful_end(const JobRecord& job, StopReason reason, const std::string& error, const TaskTable& tasks) {
    auto [soft, hard] = time_limits(job, tasks);
    // A cancel requested while the task was stopping for another reason is still a cancel.
    if (reason == StopReason::canceled || job.cancel_requested) {
        return {JobState::canceled, "canceled while running: " + error};
    }
    if (reason == StopReason::soft_time_limit) {
        return {JobState::failed, "soft time limit (" + seconds_text(soft) + ") exceeded"};
    }
    if (reason == StopReason::hard_time_limit) {
        return {JobState::failed, "hard time limit (" + seconds_text(hard) + ") exceeded"};
    }
    // `attempts` counts the run that just ended: with max_retries 2 there are three runs.
    if (job.attempts <= job.max_retries) return {JobState::retrying, error};
    return {JobState::failed, error};
}

}  // namespace zq::node
