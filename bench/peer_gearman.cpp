// Gearman peer benchmark: a no-op worker and its client, in one file, on libgearman.
//
// Built and run by bench/peers.sh against a private gearmand (default in-memory queue) on
// 127.0.0.1:
//   peer_gearman worker PORT             registers "noop" (returns an empty result) and serves
//                                        jobs until it is killed
//   peer_gearman wait PORT DEADLINE_S    exit 0 once one "noop" made the full round trip
//   peer_gearman bench PORT N WINDOW ROUND_TRIPS
// bench prints one JSON object with the fields zq-bench --json prints:
//   tasks, seconds, tasks_per_s, window, latency_samples, p50_ms, p99_ms, max_ms, failed
// Phase 1, throughput: N foreground jobs (gearman_client_add_task), in batches of WINDOW, each
// batch run with gearman_client_run_tasks until every job's result is back; tasks/s is N over
// the time from the first submission to the last result. A batch is not a sliding window: the
// next batch starts when the last job of this one is back. Phase 2, latency: ROUND_TRIPS
// sequential gearman_client_do calls, each a submission and its result; p50 and p99 in ms,
// nearest rank, as zq-bench computes them. ROUND_TRIPS 0 skips phase 2.
#include <libgearman-1.0/gearman.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
constexpr const char* kHost = "127.0.0.1";
constexpr const char* kFunction = "noop";

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

double percentile(const std::vector<double>& sorted, double fraction) {
    if (sorted.empty()) return 0;
    auto rank = static_cast<std::size_t>(std::ceil(fraction * static_cast<double>(sorted.size())));
    return sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1];
}

void* noop(gearman_job_st*, void*, size_t* result_size, gearman_return_t* ret) {
    *result_size = 0;
    *ret = GEARMAN_SUCCESS;
    return nullptr;
}

int run_worker(in_port_t port) {
    gearman_worker_st* worker = gearman_worker_create(nullptr);
    if (!worker) return 1;
    if (gearman_worker_add_server(worker, kHost, port) != GEARMAN_SUCCESS ||
        gearman_worker_add_function(worker, kFunction, 0, noop, nullptr) != GEARMAN_SUCCESS) {
        std::fprintf(stderr, "peer_gearman worker: %s\n", gearman_worker_error(worker));
        return 1;
    }
    for (;;) {
        gearman_return_t ret = gearman_worker_work(worker);
        if (ret != GEARMAN_SUCCESS && ret != GEARMAN_IO_WAIT && ret != GEARMAN_NO_JOBS) {
            std::fprintf(stderr, "peer_gearman worker: %s\n", gearman_worker_error(worker));
            // gearmand gone: try again shortly rather than spin.
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
    }
}

gearman_client_st* connect_client(in_port_t port, int timeout_ms) {
    gearman_client_st* client = gearman_client_create(nullptr);
    if (!client) return nullptr;
    gearman_client_set_timeout(client, timeout_ms);
    if (gearman_client_add_server(client, kHost, port) != GEARMAN_SUCCESS) {
        std::fprintf(stderr, "peer_gearman: %s\n", gearman_client_error(client));
        gearman_client_free(client);
        return nullptr;
    }
    return client;
}

// One sequential round trip; true when the job completed.
bool round_trip(gearman_client_st* client) {
    gearman_return_t ret;
    size_t size = 0;
    void* result = gearman_client_do(client, kFunction, nullptr, nullptr, 0, &size, &ret);
    std::free(result);
    return ret == GEARMAN_SUCCESS;
}

int wait_ready(in_port_t port, double deadline_s) {
    const auto started = Clock::now();
    while (seconds_since(started) < deadline_s) {
        if (gearman_client_st* client = connect_client(port, 1000)) {
            const bool ok = round_trip(client);
            gearman_client_free(client);
            if (ok) return 0;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    std::fprintf(stderr, "peer_gearman: no noop round trip within %.0f s\n", deadline_s);
    return 1;
}

std::size_t g_completed = 0;
std::size_t g_failed = 0;

gearman_return_t on_complete(gearman_task_st*) {
    ++g_completed;
    return GEARMAN_SUCCESS;
}

gearman_return_t on_fail(gearman_task_st*) {
    ++g_failed;
    return GEARMAN_SUCCESS;
}

int bench(in_port_t port, std::size_t tasks, std::size_t window, std::size_t round_trips) {
    gearman_client_st* client = connect_client(port, 30000);
    if (!client) return 3;
    gearman_client_add_options(client, GEARMAN_CLIENT_FREE_TASKS);
    gearman_client_set_complete_fn(client, on_complete);
    gearman_client_set_fail_fn(client, on_fail);
    gearman_client_set_exception_fn(client, on_fail);
    // Connect before the clock starts, as zq-bench does.
    if (!round_trip(client)) {
        std::fprintf(stderr, "peer_gearman: %s\n", gearman_client_error(client));
        return 3;
    }
    g_completed = g_failed = 0;

    // Phase 1, throughput.
    const auto started = Clock::now();
    for (std::size_t posted = 0; posted < tasks;) {
        const std::size_t batch = std::min(window, tasks - posted);
        for (std::size_t i = 0; i < batch; ++i) {
            gearman_return_t ret;
            if (!gearman_client_add_task(client, nullptr, nullptr, kFunction, nullptr, nullptr, 0, &ret)) {
                std::fprintf(stderr, "peer_gearman: add_task: %s\n", gearman_client_error(client));
                return 1;
            }
        }
        posted += batch;
        const gearman_return_t ret = gearman_client_run_tasks(client);
        if (ret != GEARMAN_SUCCESS) {
            std::fprintf(stderr, "peer_gearman: run_tasks: %s\n", gearman_client_error(client));
            return 1;
        }
        if (g_completed + g_failed != posted) {
            std::fprintf(stderr, "peer_gearman: %zu of %zu jobs came back\n", g_completed + g_failed, posted);
            return 1;
        }
    }
    const double seconds = seconds_since(started);

    // Phase 2, latency.
    std::vector<double> ms;
    ms.reserve(round_trips);
    std::size_t failed = g_failed;
    for (std::size_t i = 0; i < round_trips; ++i) {
        const auto t0 = Clock::now();
        if (round_trip(client)) {
            ms.push_back(seconds_since(t0) * 1000.0);
        } else {
            ++failed;
        }
    }
    std::sort(ms.begin(), ms.end());
    std::printf("{\"tasks\":%zu,\"seconds\":%.6f,\"tasks_per_s\":%.1f,\"window\":%zu,\"latency_samples\":%zu,"
                "\"p50_ms\":%.4f,\"p99_ms\":%.4f,\"max_ms\":%.4f,\"failed\":%zu}\n",
                tasks, seconds, seconds > 0 ? static_cast<double>(tasks) / seconds : 0.0, window, ms.size(),
                percentile(ms, 0.50), percentile(ms, 0.99), ms.empty() ? 0.0 : ms.back(), failed);
    gearman_client_free(client);
    return failed ? 1 : 0;
}

int usage(const char* self) {
    std::fprintf(stderr,
                 "usage: %s worker PORT | wait PORT DEADLINE_S | bench PORT N WINDOW ROUND_TRIPS\n", self);
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3) return usage(argv[0]);
    const std::string mode = argv[1];
    const auto port = static_cast<in_port_t>(std::strtoul(argv[2], nullptr, 10));
    if (mode == "worker" && argc == 3) return run_worker(port);
    if (mode == "wait" && argc == 4) return wait_ready(port, std::strtod(argv[3], nullptr));
    if (mode == "bench" && argc == 6) {
        const auto n = std::strtoull(argv[3], nullptr, 10);
        const auto window = std::strtoull(argv[4], nullptr, 10);
        const auto rounds = std::strtoull(argv[5], nullptr, 10);
        if (n == 0 || window == 0) return usage(argv[0]);
        return bench(port, n, window, rounds);
    }
    return usage(argv[0]);
}
