// Running an exec task: fork and exec the command, capture its output within bounds, wait
// for its end, and say how it ended.
#include "exec_task.hpp"

#include <zq/codec.hpp>
#include <zq/json.hpp>

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <utility>

namespace zq::exec_task {

namespace {

// How long the wait sleeps between looks at the command when the kernel offers no pidfd.
constexpr int kExitPollMillis = 100;
// Reads per stream per wake-up, so a command that writes without pause cannot keep the wait
// from looking at cancels and at the command's end.
constexpr int kReadsPerWake = 16;
constexpr std::size_t kReadChunk = 64 << 10;

// An owned file descriptor, closed when it goes.
class UniqueFd {
public:
    UniqueFd() = default;
    explicit UniqueFd(int fd) : fd_(fd) {}
    UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    UniqueFd& operator=(UniqueFd&& other) noexcept {
        if (this != &other) {
            reset();
            fd_ = std::exchange(other.fd_, -1);
        }
        return *this;
    }
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;
    ~UniqueFd() { reset(); }

    int get() const { return fd_; }
    bool valid() const { return fd_ >= 0; }
    void reset() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }

private:
    int fd_ = -1;
};

struct Pipe {
    UniqueFd read;
    UniqueFd write;
};

Result<Pipe> make_pipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return Error{std::string("pipe: ") + std::strerror(errno)};
    return Pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

// One stream's captured output: at most `limit` bytes, either the first ones or the last ones.
class Capture {
public:
    enum class Keep { head, tail };
    Capture(std::size_t limit, Keep keep) : limit_(limit), keep_(keep) {}

    void add(const char* data, std::size_t size) {
        if (keep_ == Keep::head) {
            const std::size_t room = limit_ - std::min(limit_, text_.size());
            text_.append(data, std::min(room, size));
            if (size > room) truncated_ = true;
            return;
        }
        text_.append(data, size);
        // Trimmed only once it doubled, so that keeping the tail stays linear.
        if (text_.size() > 2 * limit_ + kReadChunk) trim_tail();
    }

    std::string take() {
        if (keep_ == Keep::tail) trim_tail();
        return std::move(text_);
    }
    bool truncated() const { return truncated_; }

private:
    void trim_tail() {
        if (text_.size() <= limit_) return;
        text_.erase(0, text_.size() - limit_);
        truncated_ = true;
    }

    std::size_t limit_;
    Keep keep_;
    std::string text_;
    bool truncated_ = false;
};

// A descriptor that becomes readable when the process ends; -1 where the kernel has none.
// Called through syscall(): glibc 2.36's <sys/pidfd.h> lacks C linkage for C++.
int open_exit_fd(pid_t pid) {
#ifdef SYS_pidfd_open
    return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
#else
    (void)pid;
    return -1;
#endif
}

// A captured output stream of the running command.
struct Stream {
    UniqueFd fd;
    Capture capture;
};

// Reads what the stream has now, up to `max_reads` reads. Closes it at end of file.
void read_available(Stream& stream, int max_reads) {
    std::array<char, kReadChunk> buffer;
    for (int i = 0; i < max_reads && stream.fd.valid(); ++i) {
        const ssize_t n = ::read(stream.fd.get(), buffer.data(), buffer.size());
        if (n > 0) {
            stream.capture.add(buffer.data(), static_cast<std::size_t>(n));
        } else if (n == 0) {
            stream.fd.reset();
        } else if (errno == EINTR) {
            continue;
        } else {
            // EAGAIN: nothing more for now. Any other error ends the capture of this stream.
            if (errno != EAGAIN && errno != EWOULDBLOCK) stream.fd.reset();
            return;
        }
    }
}

// After the command ended: reads what is already in the pipe and stops there, because a
// process the command left behind may hold the pipe open and keep writing.
void read_remaining(Stream& stream) {
    if (!stream.fd.valid()) return;
    int pending = 0;
    if (::ioctl(stream.fd.get(), FIONREAD, &pending) == 0 && pending > 0) {
        read_available(stream, static_cast<int>((static_cast<std::size_t>(pending) + kReadChunk - 1) / kReadChunk));
    }
    stream.fd.reset();
}

void drain(int fd) {
    char sink[64];
    while (::read(fd, sink, sizeof sink) > 0) {
    }
}

std::string signal_description(int signal) {
    const char* abbreviation = ::sigabbrev_np(signal);
    return std::to_string(signal) + " (" + (abbreviation ? std::string("SIG") + abbreviation : "unknown") + ")";
}

// The end of stderr for an error message: whole last lines within kErrorQuoteBytes.
std::string stderr_quote(std::string_view text) {
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
    if (text.size() <= kErrorQuoteBytes) return std::string(text);
    std::size_t start = text.size() - kErrorQuoteBytes;
    const std::size_t line_start = text.find('\n', start);
    if (line_start != std::string_view::npos && line_start + 1 < text.size()) {
        start = line_start + 1;
    } else {
        // One long last line: cut it, but not inside a UTF-8 sequence.
        while (start < text.size() && (static_cast<unsigned char>(text[start]) & 0xc0) == 0x80) ++start;
    }
    return "..." + std::string(text.substr(start));
}

std::string describe_end(const std::string& program, int status, std::string_view stderr_text) {
    std::string description;
    if (WIFEXITED(status)) {
        description = "command " + program + " exited with status " + std::to_string(WEXITSTATUS(status));
    } else if (WIFSIGNALED(status)) {
        description = "command " + program + " killed by signal " + signal_description(WTERMSIG(status));
    } else {
        description = "command " + program + " ended with wait status " + std::to_string(status);
    }
    const std::string quote = stderr_quote(stderr_text);
    if (!quote.empty()) description += ": " + quote;
    return description;
}

std::string argument_text(const msgpack::object& value) {
    switch (value.type) {
        case msgpack::type::STR:
            return std::string(value.via.str.ptr, value.via.str.size);
        case msgpack::type::POSITIVE_INTEGER:
            return std::to_string(value.via.u64);
        case msgpack::type::NEGATIVE_INTEGER:
            return std::to_string(value.via.i64);
        case msgpack::type::BOOLEAN:
            return value.via.boolean ? "true" : "false";
        default:
            // Invalid UTF-8 inside a nested string is replaced rather than refused.
            return to_json(value).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
}

// The started command: its pid (also its process group) and its output pipes.
struct Child {
    pid_t pid = -1;
    Stream out;
    Stream err;
};

// Forks and execs. The child reports a failed exec through a close-on-exec pipe, so that
// "cannot run" is told apart from a command that ran and failed.
Result<Child> start(const std::vector<std::string>& argv, std::size_t output_limit, const TaskContext& context) {
    const std::string& program = argv.front();
    auto cannot_run = [&](const std::string& why) { return Error{"cannot run " + program + ": " + why}; };

    // Everything the child needs is prepared before fork: between fork and exec it only
    // calls async-signal-safe functions.
    std::vector<char*> child_argv;
    child_argv.reserve(argv.size() + 1);
    for (const auto& entry : argv) child_argv.push_back(const_cast<char*>(entry.c_str()));
    child_argv.push_back(nullptr);
    // The worker's environment, with the job's id and task name in place of any inherited.
    std::vector<std::string> job_environment = {"ZQ_JOB_ID=" + context.id(), "ZQ_TASK=" + context.name()};
    std::vector<char*> child_environment;
    for (char** entry = environ; *entry; ++entry) {
        std::string_view variable(*entry);
        if (variable.starts_with("ZQ_JOB_ID=") || variable.starts_with("ZQ_TASK=")) continue;
        child_environment.push_back(*entry);
    }
    for (auto& entry : job_environment) child_environment.push_back(entry.data());
    child_environment.push_back(nullptr);

    UniqueFd dev_null(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (!dev_null.valid()) return cannot_run(std::string("/dev/null: ") + std::strerror(errno));
    auto out = make_pipe();
    if (!out) return cannot_run(out.error());
    auto err = make_pipe();
    if (!err) return cannot_run(err.error());
    auto exec_status = make_pipe();
    if (!exec_status) return cannot_run(exec_status.error());

    const pid_t worker_pid = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) return cannot_run(std::string("fork: ") + std::strerror(errno));
    if (pid == 0) {
        // Its own process group, so that a cancel reaches whatever the command starts.
        ::setpgid(0, 0);
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != worker_pid) ::_exit(127);
        // The worker ignores SIGPIPE and may block signals; an exec'd program starts clean.
        struct sigaction default_action {};
        default_action.sa_handler = SIG_DFL;
        ::sigaction(SIGPIPE, &default_action, nullptr);
        sigset_t none;
        ::sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        int failure = 0;
        if (::dup2(dev_null.get(), STDIN_FILENO) < 0 || ::dup2(out->write.get(), STDOUT_FILENO) < 0 ||
            ::dup2(err->write.get(), STDERR_FILENO) < 0) {
            failure = errno;
        } else {
            ::execvpe(child_argv[0], child_argv.data(), child_environment.data());
            failure = errno;
        }
        [[maybe_unused]] auto written = ::write(exec_status->write.get(), &failure, sizeof failure);
        ::_exit(127);
    }

    // Also set here, so the group exists before the parent could signal it.
    ::setpgid(pid, pid);
    out->write.reset();
    err->write.reset();
    exec_status->write.reset();

    int failure = 0;
    ssize_t n;
    do {
        n = ::read(exec_status->read.get(), &failure, sizeof failure);
    } while (n < 0 && errno == EINTR);
    if (n == static_cast<ssize_t>(sizeof failure)) {
        int status;
        while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        return cannot_run(std::strerror(failure));
    }

    ::fcntl(out->read.get(), F_SETFL, O_NONBLOCK);
    ::fcntl(err->read.get(), F_SETFL, O_NONBLOCK);
    return Child{pid, Stream{std::move(out->read), Capture(output_limit, Capture::Keep::head)},
                 Stream{std::move(err->read), Capture(output_limit, Capture::Keep::tail)}};
}

}  // namespace

Result<std::vector<std::string>> command_line(const std::vector<std::string>& command, const msgpack::object& args) {
    if (command.empty()) return Error{"the exec task has an empty command"};
    std::vector<std::string> argv = command;
    if (args.type == msgpack::type::NIL) return argv;
    if (args.type != msgpack::type::ARRAY) return Error{"the arguments of an exec task must be an array"};
    for (std::uint32_t i = 0; i < args.via.array.size; ++i) argv.push_back(argument_text(args.via.array.ptr[i]));
    return argv;
}

Ended run(const std::vector<std::string>& argv, std::size_t output_limit, const TaskContext& context, int wake_fd) {
    auto started = start(argv, output_limit, context);
    if (!started) return {started.failure()};
    Child& child = *started;

    // A pidfd becomes readable when the command ends, even while something it left behind
    // still holds its output pipes open. Kernels without one get a periodic look instead.
    UniqueFd exit_fd(open_exit_fd(child.pid));

    bool terminate_sent = false;
    int status = 0;
    for (;;) {
        if (!terminate_sent && context.cancel_requested()) {
            ::kill(-child.pid, SIGTERM);
            terminate_sent = true;
        }
        std::array<pollfd, 4> fds{};
        std::size_t count = 0;
        const auto watch = [&](int fd) {
            if (fd >= 0) fds[count++] = pollfd{fd, POLLIN, 0};
        };
        watch(child.out.fd.get());
        watch(child.err.fd.get());
        watch(wake_fd);
        watch(exit_fd.get());
        const int ready = ::poll(fds.data(), count, exit_fd.valid() ? -1 : kExitPollMillis);
        if (ready < 0 && errno != EINTR) {
            const std::string why = std::strerror(errno);
            ::kill(-child.pid, SIGKILL);
            while (::waitpid(child.pid, &status, 0) < 0 && errno == EINTR) {
            }
            return {Error{"waiting for command " + argv.front() + " failed: poll: " + why}};
        }
        if (ready > 0) {
            for (std::size_t i = 0; i < count; ++i) {
                if (fds[i].revents == 0) continue;
                if (fds[i].fd == child.out.fd.get()) read_available(child.out, kReadsPerWake);
                else if (fds[i].fd == child.err.fd.get()) read_available(child.err, kReadsPerWake);
                else if (fds[i].fd == wake_fd) drain(wake_fd);
            }
        }
        const pid_t ended = ::waitpid(child.pid, &status, WNOHANG);
        if (ended == child.pid) break;
        if (ended < 0 && errno != EINTR) {
            return {Error{"waiting for command " + argv.front() + " failed: waitpid: " + std::strerror(errno)}};
        }
    }
    read_remaining(child.out);
    read_remaining(child.err);

    const bool truncated = child.out.capture.truncated() || child.err.capture.truncated();
    // A command's output is bytes; it travels as text, which must be UTF-8 (a cut at the
    // output limit can also split a character).
    std::string out_text = repaired_utf8(child.out.capture.take());
    std::string err_text = repaired_utf8(child.err.capture.take());
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        msgpack::sbuffer buffer;
        msgpack::packer<msgpack::sbuffer> packer(buffer);
        packer.pack_map(4);
        packer.pack(std::string_view("exit"));
        packer.pack(0);
        packer.pack(std::string_view("stdout"));
        packer.pack(out_text);
        packer.pack(std::string_view("stderr"));
        packer.pack(err_text);
        packer.pack(std::string_view("truncated"));
        packer.pack(truncated);
        return {std::string(buffer.data(), buffer.size()), 0};
    }
    std::string description = describe_end(argv.front(), status, err_text);
    if (terminate_sent) description = "canceled: " + description;
    return {Error{std::move(description)}, WIFEXITED(status) ? WEXITSTATUS(status) : -1};
}

}  // namespace zq::exec_task
