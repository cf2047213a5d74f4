#include "worker_inbox.hpp"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <thread>

namespace zq::worker_inbox {
namespace {

namespace field = worker_link::field;
namespace op = worker_link::op;

// Blocks until the descriptor is ready for `events` (used when it was opened non-blocking).
bool wait_ready(int fd, short events) {
    pollfd entry{fd, events, 0};
    for (;;) {
        const int ready = ::poll(&entry, 1, -1);
        if (ready > 0) return true;
        if (ready < 0 && errno != EINTR) return false;
    }
}

// Frames from the node may be as large as the link allows; inside them the protocol's
// usual bounds apply, since the arguments came from a SUBMIT decoded with the same ones.
protocol::Limits link_limits() {
    protocol::Limits limits;
    limits.max_message_bytes = worker_link::kMaxFrameBytes;
    return limits;
}

void log_skipped(const std::string& why) {
    std::fprintf(stderr, "zq worker[%d]: skipping a frame from the node: %s\n", static_cast<int>(::getpid()),
                 why.c_str());
}

}  // namespace

Inbox::Inbox(int fd, void (*request_stop)()) : fd_(fd), request_stop_(request_stop) {}

void Inbox::start() {
    std::thread([self = shared_from_this()] {
        // Signals are for the thread that runs tasks (SIGUSR1 wakes its waits).
        sigset_t all;
        ::sigfillset(&all);
        ::pthread_sigmask(SIG_BLOCK, &all, nullptr);
        self->read_loop();
    }).detach();
}

void Inbox::read_loop() {
    worker_link::FrameReader reader;
    std::array<char, 64 << 10> buffer{};
    std::string failure;
    for (;;) {
        auto next = reader.next();
        if (!next) {
            failure = next.error();
            break;
        }
        if (!next->empty()) {
            on_frame(*next);
            continue;
        }
        const ssize_t n = ::read(fd_, buffer.data(), buffer.size());
        if (n > 0) {
            reader.feed(buffer.data(), static_cast<std::size_t>(n));
        } else if (n == 0) {
            break;
        } else if (errno == EINTR || ((errno == EAGAIN || errno == EWOULDBLOCK) && wait_ready(fd_, POLLIN))) {
            continue;
        } else {
            failure = std::string("cannot read from the worker link: ") + std::strerror(errno);
            break;
        }
    }
    std::lock_guard lock(mutex_);
    closed_ = true;
    failure_ = std::move(failure);
    arrived_.notify_all();
}

void Inbox::on_frame(std::string_view frame) {
    auto unpacked = unpack_bounded(frame, link_limits());
    if (!unpacked) return log_skipped("malformed: " + unpacked.error());
    const msgpack::object& body = unpacked->get();
    if (body.type != msgpack::type::MAP) return log_skipped("not a msgpack map");
    FieldReader fields(body);
    const auto operation = fields.string(field::operation).value_or("");
    if (operation == op::run) {
        auto id = fields.string(field::id);
        if (!id) return log_skipped("a run frame without a string 'id'");
        QueuedRun run{std::string(*id), std::move(*unpacked), fields.boolean(field::announce).value_or(false)};
        std::lock_guard lock(mutex_);
        queue_.push_back(std::move(run));
        arrived_.notify_one();
    } else if (operation == op::stop) {
        if (auto id = fields.string(field::id)) stop(std::string(*id));
    } else if (operation == op::steal) {
        steal(fields.unsigned_integer(field::count).value_or(0));
    } else {
        log_skipped("unknown op '" + std::string(operation) + "'");
    }
}

void Inbox::stop(std::string id) {
    std::vector<std::string> handed_back;
    {
        std::lock_guard lock(mutex_);
        if (running_ == id) {
            request_stop_();
            return;
        }
        // Not started: it never runs. (A stop for a task already done is simply late.)
        for (auto it = queue_.begin(); it != queue_.end(); ++it) {
            if (it->id == id) {
                queue_.erase(it);
                handed_back.push_back(std::move(id));
                break;
            }
        }
    }
    if (!handed_back.empty()) returned(handed_back, false);
}

void Inbox::steal(std::uint64_t count) {
    std::vector<std::string> handed_back;
    {
        std::lock_guard lock(mutex_);
        while (count-- > 0 && !queue_.empty()) {
            handed_back.push_back(std::move(queue_.back().id));
            queue_.pop_back();
        }
    }
    // Answered even when empty: the node waits for it before it steals from us again.
    returned(handed_back, true);
}

void Inbox::returned(const std::vector<std::string>& ids, bool answers_steal) {
    BodyWriter body;
    body.add(field::operation, op::returned).add_value(field::ids, ids);
    if (answers_steal) body.add(field::steal, true);
    // A failure here means the node is gone; the main thread finds out on its next write.
    (void)send(worker_link::frame(body));
}

std::optional<QueuedRun> Inbox::take(bool wait, void (*on_take)()) {
    std::unique_lock lock(mutex_);
    if (wait) arrived_.wait(lock, [this] { return !queue_.empty() || closed_; });
    if (queue_.empty()) return std::nullopt;
    QueuedRun run = std::move(queue_.front());
    queue_.pop_front();
    running_ = run.id;
    on_take();
    return run;
}

void Inbox::finished() {
    std::lock_guard lock(mutex_);
    running_.clear();
}

std::string Inbox::failure() {
    std::lock_guard lock(mutex_);
    return failure_;
}

Status Inbox::send(std::string_view bytes) {
    std::lock_guard lock(write_mutex_);
    std::size_t sent = 0;
    while (sent < bytes.size()) {
        const ssize_t n = ::write(fd_, bytes.data() + sent, bytes.size() - sent);
        if (n > 0) {
            sent += static_cast<std::size_t>(n);
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && wait_ready(fd_, POLLOUT)) {
            continue;
        } else if (n < 0 && (errno == EPIPE || errno == ECONNRESET)) {
            return Error{"the node closed the worker link", ErrorCode::unreachable};
        } else {
            return Error{std::string("cannot write to the worker link: ") + std::strerror(errno)};
        }
    }
    return success();
}

}  // namespace zq::worker_inbox
