// The worker side of the worker link: announce READY, then run one task per RUN frame and
// answer each with DONE, until the node closes the link.
#include <zq/codec.hpp>
#include <zq/worker.hpp>
#include <zq/worker_link.hpp>

#include "exec_task.hpp"
#include "run_request.hpp"
#include "worker_inbox.hpp"

#include <fcntl.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string_view>
#include <vector>

namespace zq {

namespace {

// Set when the running task is asked to stop: by the node's STOP (cancel or soft time
// limit), or by SIGUSR1. Reset when the worker takes the next task, so a request never
// outlives its task. Lock-free, so the signal handler and the link's reader may both set it.
std::atomic<int> cancel_flag = 0;
static_assert(std::atomic<int>::is_always_lock_free);
// The self-pipe the signal handler pokes, so that a wait in progress (an exec task polling
// its command) wakes up and sees the request.
int wake_read_fd = -1;
int wake_write_fd = -1;

void request_stop() {
    const int saved_errno = errno;
    cancel_flag = 1;
    if (wake_write_fd >= 0) {
        const char byte = 1;
        [[maybe_unused]] auto written = ::write(wake_write_fd, &byte, 1);
    }
    errno = saved_errno;
}

void on_cancel_signal(int) { request_stop(); }

// A new task starts with no stop request (the inbox calls this under its lock).
void forget_stop_request() {
    cancel_flag = 0;
    char sink[64];
    while (::read(wake_read_fd, sink, sizeof sink) > 0) {
    }
}

std::string program_name = "zq-worker";

void log_error(const std::string& message) {
    std::fprintf(stderr, "%s[%d]: %s\n", program_name.c_str(), static_cast<int>(::getpid()), message.c_str());
    std::fflush(stderr);
}

// A task's outcome as DONE reports it: its result or error, and whether it asked for a retry.
struct TaskRun {
    Result<std::string> outcome;
    bool retry = false;
    double countdown = -1;  // seconds, negative: as the job's retry policy says
};

using Handlers = std::map<std::string, Worker::RawHandler, std::less<>>;

// Runs a C++ task. Exceptions stop here: they become the job's error, or its retry request.
TaskRun run_handler(const Worker::RawHandler& handler, const TaskContext& context, const RunRequest& request) {
    const auto failure = [&](const char* what) {
        return Error{*what ? std::string(what) : "task " + request.task + " failed without a message"};
    };
    try {
        return {handler(context, request.args, request.kwargs)};
    } catch (const Retry& retry) {
        return {failure(retry.what()), true, retry.countdown()};
    } catch (const TaskFailure& error) {
        return {failure(error.what())};
    } catch (const msgpack::type_error& error) {
        // A raw handler converting its arguments itself.
        return {Error{"bad arguments for " + request.task + ": " + error.what()}};
    } catch (const std::exception& error) {
        return {failure(error.what())};
    } catch (...) {
        return {Error{"task " + request.task + " threw something that is not a std::exception"}};
    }
}

TaskRun run_exec(const RunRequest& request, const TaskContext& context, int wake_fd) {
    if (request.kwargs.via.map.size > 0) {
        return {Error{"exec task " + request.task + " takes positional arguments only, not keyword arguments"}};
    }
    auto argv = exec_task::command_line(*request.exec, request.args);
    if (!argv) return {argv.failure()};
    exec_task::Ended ended = exec_task::run(*argv, request.output_limit, context, wake_fd);
    const bool retry = !ended.outcome && request.retry_exit_code > 0 && ended.exit_status == request.retry_exit_code;
    return {std::move(ended.outcome), retry};
}

TaskRun run_task(const Handlers& handlers, const RunRequest& request, int wake_fd) {
    const TaskContext context(request.id, request.task);
    TaskRun run{Error{"not run"}};
    if (request.exec) {
        run = run_exec(request, context, wake_fd);
    } else if (auto found = handlers.find(request.task); found == handlers.end()) {
        return {Error{"unknown task " + request.task}};
    } else {
        run = run_handler(found->second, context, request);
    }
    if (!run.outcome) return run;
    // Checked here, with the bounds the node applies to what it relays, so that a result
    // too large or malformed fails this job with a reason instead of the node's read.
    if (run.outcome->empty()) return {std::string(1, '\xc0')};  // nil
    if (auto valid = unpack_bounded(*run.outcome); !valid) {
        return {Error{"task " + request.task + " returned a result that cannot be sent: " + valid.error()}};
    }
    return run;
}

// DONE for a finished task, framed, to go out with the next write.
std::string done_frame(const std::string& id, const TaskRun& run) {
    BodyWriter body;
    body.add(worker_link::field::operation, worker_link::op::done);
    body.add(worker_link::field::id, id);
    body.add(worker_link::field::ok, run.outcome.ok());
    if (run.outcome) {
        body.add_packed(worker_link::field::result, *run.outcome);
    } else {
        body.add(worker_link::field::error, run.outcome.error());
    }
    if (run.retry) {
        body.add(worker_link::field::retry, true);
        if (run.countdown >= 0) body.add(worker_link::field::retry_countdown, run.countdown);
    }
    return worker_link::frame(body);
}

std::string started_frame(const std::string& id) {
    BodyWriter body;
    body.add(worker_link::field::operation, worker_link::op::started).add(worker_link::field::id, id);
    return worker_link::frame(body);
}

// The exit code once a write to the node failed: 0 when the node closed the link (it no
// longer waits for results), 1 for any other failure.
int link_closed(const Status& sent) {
    if (sent.error_code() == ErrorCode::unreachable) {
        log_error("the node closed the link before all results were sent");
        return 0;
    }
    log_error(sent.error());
    return 1;
}

// Makes the process a well-behaved child of the node. Fails when the node is already gone.
Status attach_to_parent() {
    // Dies with the node; a worker left behind would hold jobs no one waits for.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    // The node may have died before the line above: then the parent is someone else.
    if (const char* parent = std::getenv(worker_link::kParentPidEnv); parent && *parent) {
        if (::getppid() != static_cast<pid_t>(std::atol(parent))) {
            return Error{"the node that started this worker (pid " + std::string(parent) + ") is gone"};
        }
    }
    // A write to a closed link fails with EPIPE instead of killing the worker silently.
    ::signal(SIGPIPE, SIG_IGN);
    // The node decides when its workers end (link closed or SIGKILL); a Ctrl-C in the
    // node's terminal must not kill tasks under it.
    ::signal(SIGINT, SIG_IGN);
    return success();
}

Status install_cancel_signal() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
        return Error{std::string("cannot create the cancel pipe: ") + std::strerror(errno)};
    }
    wake_read_fd = fds[0];
    wake_write_fd = fds[1];
    struct sigaction action {};
    action.sa_handler = on_cancel_signal;
    action.sa_flags = SA_RESTART;
    ::sigemptyset(&action.sa_mask);
    if (::sigaction(SIGUSR1, &action, nullptr) != 0) {
        return Error{std::string("cannot install the SIGUSR1 handler: ") + std::strerror(errno)};
    }
    sigset_t usr1;
    ::sigemptyset(&usr1);
    ::sigaddset(&usr1, SIGUSR1);
    ::sigprocmask(SIG_UNBLOCK, &usr1, nullptr);
    return success();
}

void print_usage(const Handlers& handlers) {
    std::printf(
        "usage: %s\n\n"
        "A zq worker. zq-node starts it with the worker link on fd %d (or $%s) and sends it\n"
        "one task at a time; it is not meant to be started by hand.\n\ntasks:\n",
        program_name.c_str(), worker_link::kDefaultFd, worker_link::kFdEnv);
    for (const auto& [name, handler] : handlers) std::printf("  %s\n", name.c_str());
}

}  // namespace

bool TaskContext::cancel_requested() const { return cancel_flag != 0; }

void TaskContext::check_canceled() const {
    if (cancel_requested()) throw TaskFailure("canceled");
}

namespace detail {

const char* kind_of(const msgpack::object& value) {
    switch (value.type) {
        case msgpack::type::NIL: return "nil";
        case msgpack::type::BOOLEAN: return "a boolean";
        case msgpack::type::POSITIVE_INTEGER:
        case msgpack::type::NEGATIVE_INTEGER: return "an integer";
        case msgpack::type::FLOAT32:
        case msgpack::type::FLOAT64: return "a number";
        case msgpack::type::STR: return "a string";
        case msgpack::type::BIN: return "binary data";
        case msgpack::type::ARRAY: return "an array";
        case msgpack::type::MAP: return "a map";
        case msgpack::type::EXT: return "an extension value";
    }
    return "an unknown value";
}

void throw_bad_arguments(const TaskContext& context, const std::string& why) {
    throw TaskFailure("bad arguments for " + context.name() + ": " + why);
}

}  // namespace detail

Worker::Worker() = default;

Worker& Worker::raw_task(std::string name, RawHandler handler) {
    handlers_.insert_or_assign(std::move(name), std::move(handler));
    return *this;
}

int Worker::run(int argc, char** argv) {
    if (argc > 0 && argv[0] && *argv[0]) {
        const std::string_view path(argv[0]);
        program_name = std::string(path.substr(path.rfind('/') + 1));
    }
    for (int i = 1; i < argc; ++i) {
        const std::string_view argument(argv[i]);
        if (argument == "--help" || argument == "-h") {
            print_usage(handlers_);
            return 0;
        }
    }

    if (auto attached = attach_to_parent(); !attached) {
        log_error(attached.error());
        return 1;
    }
    int fd = worker_link::kDefaultFd;
    if (const char* configured = std::getenv(worker_link::kFdEnv); configured && *configured) {
        fd = std::atoi(configured);
    }
    if (fd < 0 || ::fcntl(fd, F_GETFD) < 0) {
        log_error("no worker link on fd " + std::to_string(fd) + ": a worker is started by zq-node, which passes " +
                  "the link as fd " + std::to_string(worker_link::kDefaultFd) + " (or $" + worker_link::kFdEnv +
                  "); see --help");
        return 2;
    }
    // Commands run by exec tasks must not inherit the link: one that outlived the worker
    // would keep it open, and the node would never see the worker go.
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    if (auto installed = install_cancel_signal(); !installed) {
        log_error(installed.error());
        return 1;
    }
    auto shared_inbox = std::make_shared<worker_inbox::Inbox>(fd, request_stop);
    worker_inbox::Inbox& inbox = *shared_inbox;
    BodyWriter ready;
    ready.add(worker_link::field::operation, worker_link::op::ready);
    ready.add(worker_link::field::pid, static_cast<std::int64_t>(::getpid()));
    if (auto sent = inbox.send(worker_link::frame(ready)); !sent) {
        log_error(sent.error());
        return 1;
    }
    inbox.start();

    // What is not written yet: the last DONE, and STARTED for the next task. They go out in
    // one write, before the next task runs, so that no result waits behind a long task.
    std::string unsent;
    for (;;) {
        auto next = inbox.take(false, forget_stop_request);
        if (!next) {
            if (auto sent = inbox.send(unsent); !sent) return link_closed(sent);
            unsent.clear();
            next = inbox.take(true, forget_stop_request);
        }
        if (!next) {
            const std::string failure = inbox.failure();
            if (failure.empty()) return 0;  // the node closed the link: nothing more to do
            log_error(failure);
            return 1;
        }
        if (next->announce) unsent += started_frame(next->id);
        if (auto sent = inbox.send(unsent); !sent) return link_closed(sent);
        unsent.clear();

        auto request = parse_run(next->body.get(), next->id);
        TaskRun run = request ? run_task(handlers_, *request, wake_read_fd)
                              : TaskRun{Error{"malformed run frame: " + request.error()}};
        inbox.finished();
        unsent = done_frame(next->id, run);
    }
}

}  // namespace zq
