#include "pool.hpp"

#include "clock.hpp"

#include <spdlog/spdlog.h>

#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <algorithm>
#include <deque>
#include <fstream>

extern char** environ;

namespace zq::node {
namespace {

namespace link = worker_link;

std::uint64_t resident_bytes(int pid) {
    std::ifstream statm("/proc/" + std::to_string(pid) + "/statm");
    std::uint64_t size = 0, resident = 0;
    if (!(statm >> size >> resident)) return 0;
    return resident * static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
}

// A countdown a task asked for: finite, at most a year; anything else means "as the retry
// policy says" (negative).
double bounded_countdown(std::optional<double> seconds) {
    constexpr double kLongestCountdown = 366.0 * 24 * 3600;
    if (!seconds || !(*seconds >= 0)) return -1;
    return std::min(*seconds, kLongestCountdown);
}

// "killed by signal 9 (SIGKILL)" or "exited with status 3".
std::string describe_exit(std::int64_t exit_status, int term_signal) {
    if (term_signal != 0) {
        const char* name = sigabbrev_np(term_signal);
        return "killed by signal " + std::to_string(term_signal) + (name ? " (SIG" + std::string(name) + ")" : "");
    }
    return "exited with status " + std::to_string(exit_status);
}

// The environment a worker inherits, plus where its link is and who its parent is.
std::vector<std::string> worker_environment() {
    std::vector<std::string> env;
    for (char** entry = environ; *entry; ++entry) {
        std::string_view text(*entry);
        if (text.starts_with(link::kFdEnv) || text.starts_with(link::kParentPidEnv)) continue;
        env.emplace_back(text);
    }
    env.push_back(std::string(link::kFdEnv) + "=" + std::to_string(link::kDefaultFd));
    env.push_back(std::string(link::kParentPidEnv) + "=" + std::to_string(getpid()));
    return env;
}

std::vector<char*> c_strings(std::vector<std::string>& strings) {
    std::vector<char*> pointers;
    for (auto& text : strings) pointers.push_back(text.data());
    pointers.push_back(nullptr);
    return pointers;
}

// Seconds between the node's checks for idle workers to retire.
constexpr double kMaintenanceInterval = 1.0;

// Respawn backoff after workers that die before they are ready: 0.1 s doubling up to 5 s.
constexpr double kRespawnBackoffMin = 0.1;
constexpr double kRespawnBackoffMax = 5.0;

}  // namespace

// A task handed to a worker: the first one runs once started, the rest wait in order.
struct Pool::Assignment {
    std::string job_id;
    std::string task;
    double soft_time_limit = 0;  // seconds, 0 = none
    double hard_time_limit = 0;
    bool started = false;
    // Sent behind other tasks: the worker says STARTED. A task sent to a worker that held
    // nothing is counted as started at once, though the worker may still hand it back.
    bool announced = false;
    std::int64_t started_ms = 0;  // steady clock
    // Why the node asked it to stop, if it did (it may be asked before it starts).
    StopReason stop_reason = StopReason::none;
};

struct Pool::Worker {
    Pool* pool = nullptr;
    WorkerId id = 0;
    UvHandle<uv_process_t> process;
    UvHandle<uv_pipe_t> link;
    link::FrameReader reader;
    int pid = 0;
    bool ready = false;      // sent READY
    std::size_t reserved = 0;  // slots promised to jobs whose RUN is not queued yet
    bool retiring = false;   // exits after its tasks
    bool link_open = false;
    bool steal_pending = false;  // a STEAL is not answered yet
    std::deque<Assignment> assigned;
    std::string outbox;  // frames queued by run(), written by flush()
    std::uint64_t sent = 0;
    std::uint64_t finished = 0;
    std::int64_t idle_since_ms = 0;
    // Supervision of the running task: time limits and the cancel grace.
    bool soft_limit_signalled = false;
    std::unique_ptr<Timer> limit_timer;
    std::unique_ptr<Timer> cancel_timer;

    bool running() const { return !assigned.empty() && assigned.front().started; }
    std::size_t unstarted() const { return assigned.size() - (running() ? 1 : 0); }
    bool idle() const { return ready && link_open && reserved == 0 && assigned.empty() && !retiring; }

    // Forgets the finished task and its supervision; returns why it was stopped, if it was.
    StopReason end_task() {
        limit_timer->stop();
        cancel_timer->stop();
        soft_limit_signalled = false;
        StopReason reason = assigned.front().stop_reason;
        assigned.pop_front();
        return reason;
    }
};

Pool::Pool(uv_loop_t* loop, const Config& config, Events events)
    : loop_(loop), config_(config), events_(std::move(events)), maintenance_(loop), respawn_(loop, [this] { respawn_missing(); }),
      kill_timer_(loop), steal_timer_(loop, [this] { balance(); }) {}

Pool::~Pool() {
    // The node stops the pool before it goes; whatever is left is killed so nothing outlives
    // the node.
    for (auto& [id, worker] : workers_) {
        if (worker->pid > 0) kill(worker->pid, SIGKILL);
    }
}

void Pool::start() {
    started_ = true;
    // Jobs recovered from the journal may have made grow_for() spawn some already.
    while (workers_.size() < config_.min_workers) spawn();
    maintenance_.start(kMaintenanceInterval, [this] { shrink_idle(); }, true);
}

void Pool::spawn() {
    auto worker = std::make_unique<Worker>();
    worker->pool = this;
    worker->id = next_id_++;
    Worker* self = worker.get();

    worker->limit_timer = std::make_unique<Timer>(loop_, [this, self] { on_time_limit(*self); });
    worker->cancel_timer = std::make_unique<Timer>(loop_, [this, self] { on_cancel_grace(*self); });
    uv_pipe_init(loop_, worker->link.get(), 0);
    worker->link->data = self;
    worker->process->data = self;

    std::vector<std::string> argv_strings = config_.worker_command;
    std::vector<char*> argv = c_strings(argv_strings);
    std::vector<std::string> env_strings = worker_environment();
    std::vector<char*> env = c_strings(env_strings);

    uv_stdio_container_t stdio[4] = {};
    stdio[0].flags = UV_IGNORE;
    // A worker's own prints go to the node's stderr (its log), never into the link.
    stdio[1].flags = UV_INHERIT_FD;
    stdio[1].data.fd = 2;
    stdio[2].flags = UV_INHERIT_FD;
    stdio[2].data.fd = 2;
    stdio[3].flags = static_cast<uv_stdio_flags>(UV_CREATE_PIPE | UV_READABLE_PIPE | UV_WRITABLE_PIPE);
    stdio[3].data.stream = reinterpret_cast<uv_stream_t*>(worker->link.get());

    uv_process_options_t options = {};
    options.file = argv[0];
    options.args = argv.data();
    options.env = env.data();
    options.stdio = stdio;
    options.stdio_count = 4;
    options.exit_cb = [](uv_process_t* process, std::int64_t exit_status, int term_signal) {
        auto* worker = static_cast<Worker*>(process->data);
        worker->pool->on_exit(*worker, exit_status, term_signal);
    };

    if (int error = uv_spawn(loop_, worker->process.get(), &options); error != 0) {
        spdlog::error("cannot start worker '{}': {}", config_.worker_command[0], uv_strerror(error));
        ++recent_spawn_failures_;
        replace_lost_workers();
        return;
    }
    worker->pid = worker->process->pid;
    worker->link_open = true;
    worker->idle_since_ms = steady_ms();
    uv_read_start(
        reinterpret_cast<uv_stream_t*>(worker->link.get()),
        [](uv_handle_t*, std::size_t, uv_buf_t* buffer) {
            static char storage[64 * 1024];
            *buffer = uv_buf_init(storage, sizeof storage);
        },
        [](uv_stream_t* stream, ssize_t nread, const uv_buf_t* buffer) {
            auto* worker = static_cast<Worker*>(stream->data);
            if (nread > 0) {
                worker->pool->on_link_data(*worker, buffer->base, static_cast<std::size_t>(nread));
            } else if (nread < 0) {
                // EOF or error: the worker is going; its exit callback tells how.
                uv_read_stop(stream);
                worker->link_open = false;
            }
        });
    spdlog::debug("worker[pid:{}] started", worker->pid);
    workers_.emplace(worker->id, std::move(worker));
}

void Pool::on_link_data(Worker& worker, const char* data, std::size_t size) {
    worker.reader.feed(data, size);
    while (true) {
        auto frame = worker.reader.next();
        if (!frame) {
            spdlog::error("worker[pid:{}] sent a corrupt frame ({}); stopping it", worker.pid, frame.error());
            kill(worker.pid, SIGKILL);
            return;
        }
        if (frame->empty()) return;
        on_frame(worker, *frame);
    }
}

void Pool::on_frame(Worker& worker, std::string_view frame) {
    protocol::Limits limits;
    limits.max_message_bytes = link::kMaxFrameBytes;
    limits.max_string_bytes = link::kMaxFrameBytes;
    auto unpacked = unpack_bounded(frame, limits);
    if (!unpacked) {
        spdlog::warn("worker[pid:{}] sent an unreadable frame: {}", worker.pid, unpacked.error());
        return;
    }
    FieldReader fields(unpacked->get());
    auto operation = fields.string(link::field::operation).value_or("");
    if (operation == link::op::done) {
        on_done(worker, fields);
    } else if (operation == link::op::started) {
        on_started(worker, fields.string(link::field::id).value_or(""));
    } else if (operation == link::op::returned) {
        on_returned(worker, fields);
    } else if (operation == link::op::ready) {
        worker.ready = true;
        recent_spawn_failures_ = 0;
    } else {
        spdlog::warn("worker[pid:{}] sent an unknown operation '{}'", worker.pid, operation);
    }
}

void Pool::on_started(Worker& worker, std::string_view id) {
    if (worker.assigned.empty() || worker.assigned.front().job_id != id || worker.assigned.front().started) {
        spdlog::warn("worker[pid:{}] started job {}, which is not the next one it holds", worker.pid, id);
        return;
    }
    Assignment& task = worker.assigned.front();
    task.started = true;
    task.started_ms = steady_ms();
    arm_time_limits(worker, task.soft_time_limit, task.hard_time_limit);
    if (events_.on_started) events_.on_started(id);
    // Asked to stop before it started, and the STOP came too late to hand it back.
    if (task.stop_reason == StopReason::canceled) worker.cancel_timer->start(config_.cancel_grace);
}

void Pool::on_done(Worker& worker, const FieldReader& fields) {
    auto id = fields.string(link::field::id).value_or("");
    if (worker.assigned.empty() || worker.assigned.front().job_id != id) {
        spdlog::warn("worker[pid:{}] reported job {}, which is not the one it runs", worker.pid, id);
        return;
    }
    TaskOutcome outcome;
    outcome.ok = fields.boolean(link::field::ok).value_or(false);
    // A result goes to clients and peers, whose decoders refuse a str that is not UTF-8: such
    // a string (raw bytes a task returned as text) travels as bin, unchanged. Error text is
    // repaired with U+FFFD. (The outcome holds views of these two strings.)
    const std::string result = text_checked(fields.packed(link::field::result).value_or(std::string()));
    const std::string error = repaired_utf8(
        fields.string(link::field::error).value_or(outcome.ok ? "" : "the task failed without a message"));
    outcome.result = result;
    outcome.error = error;
    outcome.retry.requested = !outcome.ok && fields.boolean(link::field::retry).value_or(false);
    outcome.retry.countdown = bounded_countdown(fields.number(link::field::retry_countdown));
    std::string job_id(id);
    outcome.reason = worker.end_task();
    ++worker.finished;
    if (worker.assigned.empty()) worker.idle_since_ms = steady_ms();
    events_.on_task_done(job_id, outcome);

    bool too_many = config_.max_tasks_per_worker != 0 && worker.finished >= config_.max_tasks_per_worker;
    bool too_big = config_.max_worker_rss != 0 && resident_bytes(worker.pid) > config_.max_worker_rss;
    if (worker.retiring || too_many || too_big) {
        retire(worker);
    }
}

void Pool::on_returned(Worker& worker, const FieldReader& fields) {
    // Only the answer to a STEAL ends it; a STOP's hand-back may come in between.
    if (fields.boolean(link::field::steal).value_or(false)) worker.steal_pending = false;
    const msgpack::object* ids = fields.find(link::field::ids);
    if (!ids || ids->type != msgpack::type::ARRAY) return;
    for (std::uint32_t i = 0; i < ids->via.array.size; ++i) {
        const auto& item = ids->via.array.ptr[i];
        if (item.type != msgpack::type::STR) continue;
        std::string_view id(item.via.str.ptr, item.via.str.size);
        // A task the worker never confirmed starting may come back: one counted as started
        // because it went to a worker that held nothing (a STOP reached it before it began).
        auto found = std::find_if(worker.assigned.begin(), worker.assigned.end(), [id](const Assignment& task) {
            return task.job_id == id && (!task.started || !task.announced);
        });
        if (found == worker.assigned.end()) continue;
        if (found->started) {
            worker.limit_timer->stop();
            worker.cancel_timer->stop();
            worker.soft_limit_signalled = false;
        }
        std::string job_id = found->job_id;
        worker.assigned.erase(found);
        events_.on_returned(job_id);
    }
    if (worker.assigned.empty()) worker.idle_since_ms = steady_ms();
    if (worker.retiring) retire(worker);
}

std::optional<WorkerId> Pool::reserve_worker(std::size_t prefetch) {
    if (holding_ || stopping_) return std::nullopt;
    Worker* best = nullptr;
    for (auto& [id, worker] : workers_) {
        if (!worker->ready || worker->retiring || !worker->link_open) continue;
        std::size_t held = worker->assigned.size() + worker->reserved;
        if (held >= std::max<std::size_t>(prefetch, 1)) continue;
        // A worker recycled by count takes no more than it has left.
        if (config_.max_tasks_per_worker != 0 && worker->sent + worker->reserved >= config_.max_tasks_per_worker) {
            continue;
        }
        if (!best || held < best->assigned.size() + best->reserved) best = worker.get();
        if (held == 0) break;
    }
    if (!best) return std::nullopt;
    ++best->reserved;
    return best->id;
}

void Pool::release(WorkerId id) {
    if (auto found = workers_.find(id); found != workers_.end() && found->second->reserved > 0) {
        --found->second->reserved;
    }
}

void Pool::run(WorkerId id, const RunRequest& request) {
    auto found = workers_.find(id);
    if (found == workers_.end()) {
        // The worker died between reservation and commit: the job never reached it.
        events_.on_returned(request.id);
        return;
    }
    Worker& worker = *found->second;
    if (worker.reserved > 0) --worker.reserved;
    // A worker that holds nothing starts the task as soon as it reads it; behind other tasks
    // it waits, and the worker announces when it starts.
    bool starts_now = worker.assigned.empty();
    worker.assigned.push_back({std::string(request.id), std::string(request.task), request.soft_time_limit,
                               request.hard_time_limit, starts_now, !starts_now, starts_now ? steady_ms() : 0});
    ++worker.sent;

    BodyWriter body;
    body.add(link::field::operation, link::op::run)
        .add(link::field::id, request.id)
        .add(link::field::task, request.task)
        .add_packed(link::field::args, request.args.empty() ? std::string_view("\x90", 1) : request.args)
        .add_packed(link::field::kwargs, request.kwargs.empty() ? std::string_view("\x80", 1) : request.kwargs);
    if (request.exec) {
        body.add_value(link::field::exec, *request.exec);
        body.add(link::field::output_limit, config_.exec_output_limit);
        if (request.retry_exit_code >= 0) body.add(link::field::retry_exit_code, std::int64_t{request.retry_exit_code});
    }
    if (!starts_now) body.add(link::field::announce, true);
    if (worker.outbox.empty()) unflushed_.push_back(worker.id);
    worker.outbox += link::frame(body);
    if (starts_now) arm_time_limits(worker, request.soft_time_limit, request.hard_time_limit);
}

std::size_t Pool::unstarted() const {
    std::size_t count = 0;
    for (const auto& [id, worker] : workers_) count += worker->unstarted();
    return count;
}

void Pool::flush() {
    for (WorkerId id : unflushed_) {
        auto found = workers_.find(id);
        if (found == workers_.end()) continue;
        write(*found->second, std::move(found->second->outbox));
        found->second->outbox.clear();
    }
    unflushed_.clear();
}

void Pool::balance() {
    if (unstarted() == 0) {
        steal_timer_.stop();
        return;
    }
    std::vector<Worker*> holders;
    std::size_t idle = 0;
    for (auto& [id, worker] : workers_) {
        if (worker->idle()) ++idle;
        if (worker->unstarted() > 0 && !worker->steal_pending) holders.push_back(worker.get());
    }
    // An idle worker: the worker holding the most tasks not yet started gives back half.
    std::sort(holders.begin(), holders.end(),
              [](const Worker* a, const Worker* b) { return a->unstarted() > b->unstarted(); });
    std::size_t victims = std::min(idle, holders.size());
    for (std::size_t i = 0; i < victims; ++i) steal(*holders[i], (holders[i]->unstarted() + 1) / 2);
    // Tasks held behind one that has run longer than prefetch_wait are all given back.
    std::int64_t now = steady_ms();
    auto bound_ms = static_cast<std::int64_t>(config_.prefetch_wait * 1000);
    for (std::size_t i = victims; i < holders.size(); ++i) {
        Worker& worker = *holders[i];
        if (worker.running() && now - worker.assigned.front().started_ms >= bound_ms) steal(worker, worker.unstarted());
    }
    steal_timer_.start(config_.prefetch_wait / 2, true);
}

void Pool::hold_new_work() {
    holding_ = true;
    for (auto& [id, worker] : workers_) steal(*worker, worker->unstarted());
}

void Pool::steal(Worker& worker, std::size_t count) {
    if (count == 0 || !worker.link_open) return;
    worker.steal_pending = true;
    BodyWriter body;
    body.add(link::field::operation, link::op::steal).add(link::field::count, static_cast<std::uint64_t>(count));
    write(worker, link::frame(body));
}

void Pool::stop_task(Worker& worker, std::string_view job_id) {
    BodyWriter body;
    body.add(link::field::operation, link::op::stop).add(link::field::id, job_id);
    write(worker, link::frame(body));
}

void Pool::arm_time_limits(Worker& worker, double soft, double hard) {
    // A soft limit at or after the hard one would never be seen.
    if (soft > 0 && (hard == 0 || soft < hard)) {
        worker.limit_timer->start(soft);
    } else if (hard > 0) {
        worker.assigned.front().soft_time_limit = 0;
        worker.limit_timer->start(hard);
    }
}

void Pool::on_time_limit(Worker& worker) {
    if (!worker.running()) return;
    Assignment& task = worker.assigned.front();
    if (task.soft_time_limit > 0 && !worker.soft_limit_signalled) {
        // Like a cancel: the task sees a stop request it may honour.
        worker.soft_limit_signalled = true;
        if (task.stop_reason == StopReason::none) task.stop_reason = StopReason::soft_time_limit;
        stop_task(worker, task.job_id);
        if (task.hard_time_limit > 0) worker.limit_timer->start(task.hard_time_limit - task.soft_time_limit);
        return;
    }
    task.stop_reason = StopReason::hard_time_limit;
    kill_running(worker, task.job_id);
}

bool Pool::cancel(std::string_view job_id) {
    for (auto& [id, worker] : workers_) {
        auto found = std::find_if(worker->assigned.begin(), worker->assigned.end(),
                                  [job_id](const Assignment& task) { return task.job_id == job_id; });
        if (found == worker->assigned.end()) continue;
        found->stop_reason = StopReason::canceled;
        // A task not started yet comes back unrun (RETURNED); a running one is asked to stop
        // and killed if it has not after cancel_grace.
        stop_task(*worker, job_id);
        if (found->started) worker->cancel_timer->start(config_.cancel_grace);
        return true;
    }
    return false;
}

void Pool::on_cancel_grace(Worker& worker) {
    if (!worker.running() || worker.assigned.front().stop_reason != StopReason::canceled) return;
    kill_running(worker, worker.assigned.front().job_id);
}

void Pool::kill_running(Worker& worker, const std::string& job_id) {
    // The task may have just finished: its DONE may be waiting in the link.
    std::string id = job_id;
    read_what_is_left(worker);
    if (worker.running() && worker.assigned.front().job_id == id) kill(worker.pid, SIGKILL);
}

void Pool::read_what_is_left(Worker& worker) {
    if (!worker.link_open) return;
    uv_os_fd_t fd;
    if (uv_fileno(reinterpret_cast<uv_handle_t*>(worker.link.get()), &fd) != 0) return;
    // Read whole before any frame is handled: handling one may close the link.
    std::string bytes;
    char buffer[64 * 1024];
    for (;;) {
        ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n <= 0) break;  // EAGAIN: nothing more now; EOF and errors: the read callback sees them
        bytes.append(buffer, static_cast<std::size_t>(n));
    }
    if (!bytes.empty()) on_link_data(worker, bytes.data(), bytes.size());
}

void Pool::write(Worker& worker, std::string bytes) {
    if (bytes.empty() || !worker.link_open) return;
    auto* stream = reinterpret_cast<uv_stream_t*>(worker.link.get());
    uv_buf_t buffer = uv_buf_init(bytes.data(), static_cast<unsigned>(bytes.size()));
    int written = uv_try_write(stream, &buffer, 1);
    if (written == static_cast<int>(bytes.size())) return;
    if (written > 0) bytes.erase(0, static_cast<std::size_t>(written));
    else if (written != UV_EAGAIN) {
        spdlog::warn("worker[pid:{}] link write failed: {}", worker.pid, uv_strerror(written));
        return;  // the worker is dying; its exit reports the job
    }
    // The rest goes asynchronously; the request owns its bytes until the write completes.
    struct WriteRequest {
        uv_write_t request;
        std::string bytes;
    };
    auto* pending = new WriteRequest{{}, std::move(bytes)};
    buffer = uv_buf_init(pending->bytes.data(), static_cast<unsigned>(pending->bytes.size()));
    int error = uv_write(&pending->request, stream, &buffer, 1,
                         [](uv_write_t* request, int) { delete reinterpret_cast<WriteRequest*>(request); });
    if (error != 0) delete pending;
}

void Pool::on_exit(Worker& worker, std::int64_t exit_status, int term_signal) {
    // What the worker wrote before it went (a DONE, a STARTED) counts: read it first.
    read_what_is_left(worker);
    std::string how = describe_exit(exit_status, term_signal);
    if (!worker.ready && !stopping_) ++recent_spawn_failures_;
    if (worker.running()) {
        std::string explanation = "worker pid " + std::to_string(worker.pid) + " " + how + " while running the job";
        std::string job_id = worker.assigned.front().job_id;
        StopReason reason = worker.end_task();
        if (reason == StopReason::none) spdlog::warn("{} {}", job_id, explanation);
        events_.on_worker_lost(job_id, explanation, reason);
    } else if (!worker.retiring && !stopping_) {
        spdlog::warn("worker[pid:{}] {}", worker.pid, how);
    }
    // Tasks it held but never started run elsewhere.
    while (!worker.assigned.empty()) {
        std::string job_id = std::move(worker.assigned.front().job_id);
        worker.assigned.pop_front();
        events_.on_returned(job_id);
    }
    workers_.erase(worker.id);  // closes its handles
    if (stopping_) {
        finish_stop_if_done();
        return;
    }
    replace_lost_workers();
}

void Pool::replace_lost_workers() {
    if (stopping_ || workers_.size() >= config_.min_workers) return;
    if (recent_spawn_failures_ == 0) {
        while (workers_.size() < config_.min_workers) spawn();
        return;
    }
    // Workers die before they are ready (a bad --worker command, a crash at start): back off
    // instead of spinning.
    double delay = std::min(kRespawnBackoffMax, kRespawnBackoffMin * (1 << std::min(recent_spawn_failures_, 6u)));
    respawn_.start(delay);
}

void Pool::respawn_missing() {
    while (!stopping_ && workers_.size() < config_.min_workers) {
        std::size_t before = workers_.size();
        spawn();
        if (workers_.size() == before) break;  // spawn failed and rescheduled itself
    }
}

void Pool::grow_for(std::size_t waiting_jobs) {
    // Before start() the pool is not at its minimum yet: start() brings it there, and growing
    // now as well would overshoot max_workers.
    if (!started_ || stopping_ || holding_ || recent_spawn_failures_ != 0) return;
    std::size_t starting = 0;
    for (auto& [id, worker] : workers_) {
        if (!worker->ready || worker->idle()) ++starting;
    }
    while (waiting_jobs > starting && workers_.size() < config_.max_workers) {
        spawn();
        ++starting;
    }
}

void Pool::retire(Worker& worker) {
    worker.retiring = true;
    if (!worker.assigned.empty() || worker.reserved) return;  // goes after its tasks
    // Closing the link is the worker's signal to exit cleanly.
    if (worker.link_open) {
        uv_read_stop(reinterpret_cast<uv_stream_t*>(worker.link.get()));
        worker.link.close();
        worker.link_open = false;
    }
    // Replacements for recycled workers keep the pool at its size.
    if (!stopping_ && workers_.size() - 1 < config_.min_workers) spawn();
}

void Pool::shrink_idle() {
    std::int64_t now = steady_ms();
    auto idle_limit = static_cast<std::int64_t>(config_.worker_idle_timeout * 1000);
    std::size_t live = 0;
    for (auto& [id, worker] : workers_) live += worker->retiring ? 0 : 1;
    for (auto& [id, worker] : workers_) {
        if (live <= config_.min_workers) break;
        if (worker->idle() && now - worker->idle_since_ms >= idle_limit) {
            retire(*worker);
            --live;
        }
    }
}

void Pool::recycle_all() {
    if (stopping_ || holding_) return;
    std::vector<Worker*> current;
    for (auto& [id, worker] : workers_) current.push_back(worker.get());
    for (Worker* worker : current) {
        if (worker->retiring) continue;
        spawn();  // the replacement starts while the old one finishes its task
        retire(*worker);
    }
}

void Pool::stop(double grace, std::function<void()> on_stopped) {
    stopping_ = true;
    on_stopped_ = std::move(on_stopped);
    maintenance_.stop();
    respawn_.stop();
    for (auto& [id, worker] : workers_) {
        if (worker->pid > 0) kill(worker->pid, SIGTERM);
    }
    kill_timer_.start(grace, [this] {
        for (auto& [id, worker] : workers_) {
            if (worker->pid > 0) kill(worker->pid, SIGKILL);
        }
    });
    finish_stop_if_done();
}

void Pool::finish_stop_if_done() {
    if (!workers_.empty() || !on_stopped_) return;
    kill_timer_.stop();
    auto done = std::move(on_stopped_);
    on_stopped_ = nullptr;
    done();
}

std::size_t Pool::busy() const {
    std::size_t count = 0;
    for (auto& [id, worker] : workers_) count += worker->assigned.empty() && worker->reserved == 0 ? 0 : 1;
    return count;
}

std::vector<WorkerStats> Pool::stats() const {
    std::vector<WorkerStats> all;
    for (auto& [id, worker] : workers_) {
        const Assignment* running = worker->running() ? &worker->assigned.front() : nullptr;
        all.push_back({worker->pid, worker->sent, worker->finished, resident_bytes(worker->pid),
                       running ? running->job_id : std::string(), running ? running->task : std::string(),
                       worker->ready, worker->assigned.size()});
    }
    return all;
}

}  // namespace zq::node
