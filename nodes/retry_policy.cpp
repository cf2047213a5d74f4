#include "retry_policy.hpp"

#include <algorithm>
#include <cmath>

namespace zq::node {

RetryPolicy retry_policy(const JobRecord& job, const decltype(Config::tasks)& tasks) {
    RetryPolicy policy{job.max_retries,       job.retry_delay,  job.retry_backoff,
                       job.retry_backoff_max, job.retry_jitter, job.retry_on_worker_lost};
    auto settings = tasks.find(job.task);
    if (settings == tasks.end()) return policy;
    const TaskSettings& task = settings->second;
    if (policy.max_retries == 0) policy.max_retries = task.retries;
    if (policy.delay <= 0) policy.delay = task.retry_delay;
    if (policy.backoff <= 0) policy.backoff = task.retry_backoff;
    if (policy.backoff_max <= 0) policy.backoff_max = task.retry_backoff_max;
    policy.jitter = policy.jitter || task.retry_jitter;
    policy.on_worker_lost = policy.on_worker_lost || task.retry_on_worker_lost;
    return policy;
}

double retry_delay_seconds(const RetryPolicy& policy, std::uint32_t retry, double draw) {
    double delay = policy.delay;
    if (policy.backoff > 0) {
        const double cap = policy.backoff_max > 0 ? policy.backoff_max : kDefaultBackoffMax;
        // 2^62 already exceeds any cap; a larger exponent would only overflow.
        const double doubling = std::ldexp(1.0, static_cast<int>(std::clamp<std::uint32_t>(retry, 1, 63) - 1));
        delay = std::min(cap, policy.backoff * doubling);
    }
    if (policy.jitter) delay *= std::clamp(draw, 0.0, 1.0);
    return std::max(0.0, delay);
}

}  // namespace zq::node
