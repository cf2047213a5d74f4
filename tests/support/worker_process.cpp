#include "support/worker_process.hpp"

#include <zq/codec.hpp>
#include <zq/json.hpp>

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <stdexcept>

extern char** environ;

namespace zq::test {

namespace {

using Clock = std::chrono::steady_clock;

std::runtime_error system_error(const std::string& what) {
    return std::runtime_error(what + ": " + std::strerror(errno));
}

int remaining_millis(Clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    return left > 0 ? static_cast<int>(left) : 0;
}

protocol::Limits link_limits() {
    protocol::Limits limits;
    limits.max_message_bytes = worker_link::kMaxFrameBytes;
    return limits;
}

std::string variable_name(const std::string& entry) { return entry.substr(0, entry.find('=')); }

}  // namespace

RunRequest task_request(std::string id, std::string task, nlohmann::json args) {
    RunRequest request;
    request.id = std::move(id);
    request.task = std::move(task);
    request.args = std::move(args);
    return request;
}

RunRequest exec_request(std::string id, std::vector<std::string> command, nlohmann::json args,
                        std::optional<std::uint64_t> output_limit) {
    RunRequest request;
    request.id = std::move(id);
    // The node sends the name the task was declared under; any name does here.
    request.task = "exec:" + command.front();
    request.args = std::move(args);
    request.exec = std::move(command);
    request.output_limit = output_limit;
    return request;
}

std::string run_frame(const RunRequest& request) {
    BodyWriter body;
    body.add(worker_link::field::operation, worker_link::op::run);
    body.add(worker_link::field::id, request.id);
    body.add(worker_link::field::task, request.task);
    pack_json(body.begin(worker_link::field::args), request.args);
    body.begin(worker_link::field::kwargs).pack_map(0);
    if (!request.exec.empty()) body.add_value(worker_link::field::exec, request.exec);
    if (request.output_limit) body.add(worker_link::field::output_limit, *request.output_limit);
    return worker_link::frame(body);
}

WorkerProcess::WorkerProcess(const std::string& program, std::vector<std::string> environment) {
    int ends[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends) != 0) throw system_error("socketpair");
    link_fd_ = ends[0];
    // The child's end must not already be fd 3, or the dup2 below would keep its close-on-exec flag.
    const int child_end = ::fcntl(ends[1], F_DUPFD_CLOEXEC, 10);
    ::close(ends[1]);
    if (child_end < 0) throw system_error("fcntl(F_DUPFD_CLOEXEC)");

    environment.push_back(std::string(worker_link::kParentPidEnv) + "=" + std::to_string(::getpid()));
    std::vector<std::string> merged;
    for (char** entry = environ; *entry; ++entry) {
        const std::string inherited(*entry);
        bool replaced = false;
        for (const auto& added : environment) replaced = replaced || variable_name(added) == variable_name(inherited);
        if (!replaced && variable_name(inherited) != worker_link::kFdEnv) merged.push_back(inherited);
    }
    merged.insert(merged.end(), environment.begin(), environment.end());
    std::vector<char*> envp;
    for (auto& entry : merged) envp.push_back(entry.data());
    envp.push_back(nullptr);
    std::string program_copy = program;
    std::array<char*, 2> argv{program_copy.data(), nullptr};

    posix_spawn_file_actions_t actions;
    ::posix_spawn_file_actions_init(&actions);
    ::posix_spawn_file_actions_adddup2(&actions, child_end, worker_link::kDefaultFd);
    const int spawned = ::posix_spawn(&pid_, program.c_str(), &actions, nullptr, argv.data(), envp.data());
    ::posix_spawn_file_actions_destroy(&actions);
    ::close(child_end);
    if (spawned != 0) {
        ::close(link_fd_);
        throw std::runtime_error("cannot start " + program + ": " + std::strerror(spawned));
    }
}

WorkerProcess::~WorkerProcess() {
    if (!reaped_ && pid_ > 0) {
        ::kill(pid_, SIGKILL);
        int status;
        while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
        }
    }
    close_link();
}

void WorkerProcess::send_bytes(const std::string& bytes) {
    std::size_t sent = 0;
    while (sent < bytes.size()) {
        const ssize_t n = ::send(link_fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
        if (n > 0) {
            sent += static_cast<std::size_t>(n);
        } else if (n < 0 && errno != EINTR) {
            throw system_error("writing to the worker link");
        }
    }
}

std::optional<nlohmann::json> WorkerProcess::receive(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
        auto next = reader_.next();
        if (!next) throw std::runtime_error("the worker sent a corrupt stream: " + next.error());
        if (!next->empty()) {
            auto unpacked = unpack_bounded(*next, link_limits());
            if (!unpacked) throw std::runtime_error("the worker sent a malformed frame: " + unpacked.error());
            return to_json(unpacked->get());
        }
        if (link_fd_ < 0) return std::nullopt;
        pollfd entry{link_fd_, POLLIN, 0};
        const int ready = ::poll(&entry, 1, remaining_millis(deadline));
        if (ready < 0 && errno == EINTR) continue;
        if (ready < 0) throw system_error("poll on the worker link");
        if (ready == 0) return std::nullopt;
        std::array<char, 64 << 10> buffer;
        const ssize_t n = ::read(link_fd_, buffer.data(), buffer.size());
        if (n == 0) return std::nullopt;
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw system_error("reading the worker link");
        reader_.feed(buffer.data(), static_cast<std::size_t>(n));
    }
}

std::optional<std::int64_t> WorkerProcess::await_ready(std::chrono::milliseconds timeout) {
    auto frame = receive(timeout);
    if (!frame || frame->value("op", "") != worker_link::op::ready) return std::nullopt;
    return frame->value("pid", std::int64_t{-1});
}

std::optional<TaskOutcome> WorkerProcess::await_done(std::chrono::milliseconds timeout) {
    auto frame = receive(timeout);
    if (!frame || frame->value("op", "") != worker_link::op::done) return std::nullopt;
    TaskOutcome outcome;
    outcome.id = frame->value("id", "");
    outcome.ok = frame->value("ok", false);
    outcome.result = frame->value("res", nlohmann::json());
    outcome.error = frame->value("err", "");
    return outcome;
}

std::optional<TaskOutcome> WorkerProcess::run(const RunRequest& request, std::chrono::milliseconds timeout) {
    send(request);
    return await_done(timeout);
}

void WorkerProcess::signal(int signal_number) const { ::kill(pid_, signal_number); }

void WorkerProcess::close_link() {
    if (link_fd_ >= 0) ::close(link_fd_);
    link_fd_ = -1;
}

std::optional<int> WorkerProcess::wait_exit(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    // A pidfd becomes readable when the process ends, so the wait needs no polling interval.
    const int exit_fd = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
    if (exit_fd < 0) throw system_error("pidfd_open");
    for (;;) {
        int status = 0;
        const pid_t ended = ::waitpid(pid_, &status, WNOHANG);
        if (ended == pid_) {
            reaped_ = true;
            ::close(exit_fd);
            return status;
        }
        if (ended < 0 && errno != EINTR) {
            ::close(exit_fd);
            throw system_error("waitpid");
        }
        pollfd entry{exit_fd, POLLIN, 0};
        if (::poll(&entry, 1, remaining_millis(deadline)) == 0) {
            ::close(exit_fd);
            return std::nullopt;
        }
    }
}

}  // namespace zq::test
