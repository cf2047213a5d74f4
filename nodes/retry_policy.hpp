// The retry policy of a job: how many times a run that did not succeed is tried again, and
// how long each next attempt waits.
//
// A job's own settings (zq::Task) win; its task's [tasks.NAME] settings supply those it does
// not set. The delay before retry n (1 for the first) is `delay` seconds; with `backoff` it is
// backoff × 2^(n−1), capped at backoff_max (600 s when unset), as Celery's retry_backoff; with
// `jitter` it is drawn uniformly between 0 and that value ("full jitter"), so that many jobs
// failing together do not come back together. Pure: the caller passes the random draw.
#pragma once

#include "config.hpp"
#include "journal.hpp"

#include <cstdint>

namespace zq::node {

struct RetryPolicy {
    std::uint32_t max_retries = 0;
    double delay = 0;
    double backoff = 0;
    double backoff_max = 0;
    bool jitter = false;
    bool on_worker_lost = false;
};

// The cap of a backoff whose job and task set none, in seconds.
inline constexpr double kDefaultBackoffMax = 600;

RetryPolicy retry_policy(const JobRecord& job, const decltype(Config::tasks)& tasks);

// Seconds to wait before retry number `retry` (1 for the first); `draw` is uniform in [0, 1)
// and is used only with jitter.
double retry_delay_seconds(const RetryPolicy& policy, std::uint32_t retry, double draw);

}  // namespace zq::node
