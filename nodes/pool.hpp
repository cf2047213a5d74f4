// The worker pool: child processes the node spawns (fork+exec through libuv) and supervises.
//
// Each worker talks to the node over a socketpair (worker_link.hpp) and runs one task at a
// time. The pool owns the processes and their links; the dispatcher owns the jobs. The pool
// tells the dispatcher when a worker is free, when a task finished and when a worker died
// with a task, and the dispatcher decides what happens to the job.
//
// Prefetch: while the queue is deep a worker may hold up to `prefetch` tasks; it runs them in
// order. Work stealing keeps the promise that no task waits behind a long one while another
// worker is free: an idle worker makes the pool take back (STEAL) tasks another worker has not
// started, and a task that waited at a worker longer than `prefetch_wait` is taken back too.
// What comes back goes to the dispatcher (on_returned), which queues it again at the front.
#pragma once

#include "config.hpp"
#include "event_loop.hpp"

#include <zq/worker_link.hpp>

#include <uv.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace zq::node {

using WorkerId = std::uint64_t;

// What the dispatcher hands a worker.
struct RunRequest {
    std::string_view id;
    std::string_view task;
    std::string_view args;
    std::string_view kwargs;
    const std::vector<std::string>* exec = nullptr;  // argv of an exec task
    double soft_time_limit = 0;                      // seconds, 0 = none
    double hard_time_limit = 0;
    int retry_exit_code = -1;  // an exec task exiting with it asks for a retry (-1: none)
};

// Why the pool stopped a running task, if it did: the dispatcher turns it into the job's
// outcome ("canceled", "soft time limit (2s) exceeded", ...).
enum class StopReason { none, canceled, soft_time_limit, hard_time_limit };

// What a worker reported about a finished task.
struct TaskOutcome {
    // A task may ask to be run again (zq::Retry, or an exec task's retry_exit_code).
    struct Retry {
        bool requested = false;
        double countdown = -1;  // seconds it asked to wait; negative: as its retry policy says
    };
    bool ok = false;
    std::string_view result;  // msgpack bytes when ok
    std::string_view error;   // when not ok
    StopReason reason = StopReason::none;
    Retry retry;
};

// Figures shown by `zq-node status`.
struct WorkerStats {
    int pid = 0;
    std::uint64_t sent = 0;
    std::uint64_t finished = 0;
    std::uint64_t rss_bytes = 0;
    std::string job_id;  // empty when idle
    std::string task;
    bool ready = false;
    std::uint64_t held = 0;  // tasks it holds: the running one and those waiting behind it
};

class Pool {
public:
    struct Events {
        // A task finished.
        std::function<void(std::string_view job_id, const TaskOutcome& outcome)> on_task_done;
        // A worker died while running a job; explanation names the pid and the signal or status.
        std::function<void(std::string_view job_id, const std::string& explanation, StopReason reason)>
            on_worker_lost;
        // Tasks handed to a worker that it never started (taken back, or its worker died).
        std::function<void(std::string_view job_id)> on_returned;
        // A worker started a task it held behind another (STARTED); not sent for a task that
        // starts as soon as it arrives.
        std::function<void(std::string_view job_id)> on_started;
    };

    Pool(uv_loop_t* loop, const Config& config, Events events);
    ~Pool();
    Pool(const Pool&) = delete;
    Pool& operator=(const Pool&) = delete;

    // Spawns min_workers and starts the idle-shrink timer.
    void start();

    // Takes a worker that holds fewer than `prefetch` tasks: an idle one first, else the one
    // holding the fewest (with 1, only an idle worker), or nullopt when none can take it. The
    // slot stays reserved until run() or release().
    std::optional<WorkerId> reserve_worker(std::size_t prefetch);
    void release(WorkerId worker);
    // Queues the task for a reserved worker; it goes out with flush().
    void run(WorkerId worker, const RunRequest& request);
    // Writes what run() queued, one write per worker.
    void flush();
    // Takes back tasks not yet started for workers that are idle, or that waited too long.
    void balance();
    // Tasks handed to workers that have not started yet.
    std::size_t unstarted() const;
    // Asks the task to stop (a STOP frame: a task the worker has not started comes back unrun),
    // then SIGKILLs its worker after cancel_grace if the task still runs.
    // Returns false when no worker runs the job.
    bool cancel(std::string_view job_id);
    // Grows the pool while work waits and every worker is busy (up to max_workers).
    void grow_for(std::size_t waiting_jobs);

    // Hands out no more work (the node is shutting down); running tasks go on, and tasks
    // not started yet are taken back (they stay queued in the journal for the restart).
    void hold_new_work();

    // Retires every worker after its current task (reload).
    void recycle_all();
    // Stops every worker: EOF on the link, SIGTERM, SIGKILL after `grace` seconds;
    // on_stopped runs once all have exited.
    void stop(double grace, std::function<void()> on_stopped);

    std::vector<WorkerStats> stats() const;
    std::size_t size() const { return workers_.size(); }
    std::size_t busy() const;

private:
    struct Worker;
    struct Assignment;

    void spawn();
    void on_started(Worker& worker, std::string_view id);
    void on_done(Worker& worker, const FieldReader& fields);
    void on_returned(Worker& worker, const FieldReader& fields);
    void steal(Worker& worker, std::size_t count);
    void stop_task(Worker& worker, std::string_view job_id);
    void read_what_is_left(Worker& worker);
    void arm_time_limits(Worker& worker, double soft, double hard);
    void on_time_limit(Worker& worker);
    void on_cancel_grace(Worker& worker);
    // SIGKILL for the worker, unless the job turns out to have finished already.
    void kill_running(Worker& worker, const std::string& job_id);
    void on_exit(Worker& worker, std::int64_t exit_status, int term_signal);
    void on_link_data(Worker& worker, const char* data, std::size_t size);
    void on_frame(Worker& worker, std::string_view frame);
    void write(Worker& worker, std::string bytes);
    void retire(Worker& worker);
    void shrink_idle();
    void replace_lost_workers();
    void respawn_missing();
    void finish_stop_if_done();

    uv_loop_t* loop_;
    const Config& config_;
    Events events_;
    std::map<WorkerId, std::unique_ptr<Worker>> workers_;
    WorkerId next_id_ = 1;
    Timer maintenance_;
    Timer respawn_;
    unsigned recent_spawn_failures_ = 0;
    bool started_ = false;
    bool stopping_ = false;
    bool holding_ = false;
    std::function<void()> on_stopped_;
    Timer kill_timer_;
    Timer steal_timer_;  // runs balance() while tasks wait at workers
    std::vector<WorkerId> unflushed_;  // workers with frames queued by run()
};

}  // namespace zq::node
