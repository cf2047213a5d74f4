#include "event_loop.hpp"

#include <algorithm>

#include <zq/wire.hpp>

namespace zq::node {

Timer::Timer(uv_loop_t* loop) {
    uv_timer_init(loop, timer_.get());
    timer_->data = this;
}

Timer::Timer(uv_loop_t* loop, std::function<void()> callback) : Timer(loop) { callback_ = std::move(callback); }

void Timer::start(double seconds, std::function<void()> callback, bool repeat) {
    callback_ = std::move(callback);
    start(seconds, repeat);
}

void Timer::start(double seconds, bool repeat) {
    // Converting NaN, infinity or a value past 2^64 to an integer is undefined (and on x86
    // gives 0: a timer that fires at once). Whatever reached here is held to 0 .. ~31 years.
    constexpr double kLongestMs = 1e12;
    const double wanted_ms = seconds * 1000.0;
    auto ms = static_cast<std::uint64_t>(wanted_ms > 0 ? std::min(wanted_ms, kLongestMs) : 0.0);
    uv_timer_start(
        timer_.get(), [](uv_timer_t* handle) { static_cast<Timer*>(handle->data)->callback_(); }, ms,
        repeat ? std::max<std::uint64_t>(ms, 1) : 0);
}

void Timer::stop() { uv_timer_stop(timer_.get()); }

ZmqWatcher::ZmqWatcher(uv_loop_t* loop, zmq::socket_t& socket, std::function<bool()> on_readable)
    : socket_(socket), on_readable_(std::move(on_readable)) {
    int fd = socket_.get(zmq::sockopt::fd);
    uv_poll_init(loop, poll_.get(), fd);
    poll_->data = this;
    uv_poll_start(poll_.get(), UV_READABLE,
                  [](uv_poll_t* handle, int, int) { static_cast<ZmqWatcher*>(handle->data)->drain(false); });

    uv_prepare_init(loop, prepare_.get());
    prepare_->data = this;
    uv_prepare_start(prepare_.get(), [](uv_prepare_t* handle) {
        auto* self = static_cast<ZmqWatcher*>(handle->data);
        // Read to the end and nothing sent since: the edge is armed, the poll will see news.
        if (!self->check_before_sleep_) {
            uv_idle_stop(self->idle_.get());
            return;
        }
        self->check_before_sleep_ = false;
        if (self->readable()) {
            self->drain(true);
        } else {
            // Nothing left: the poll may block again. (The idle handle started by an earlier
            // drain must not outlive it, or a socket that goes quiet keeps the loop spinning.)
            uv_idle_stop(self->idle_.get());
        }
    });

    uv_idle_init(loop, idle_.get());
    idle_->data = this;
}

ZmqWatcher::~ZmqWatcher() {
    if (poll_.get()) uv_poll_stop(poll_.get());
}

bool ZmqWatcher::readable() {
    return (retry_interrupted([this] { return socket_.get(zmq::sockopt::events); }) & ZMQ_POLLIN) != 0;
}

void ZmqWatcher::drain(bool before_poll) {
    bool complete = on_readable_();
    if (!complete) check_before_sleep_ = true;
    // Two reasons to keep the coming poll from blocking. Messages drained before the poll
    // (a send had consumed the edge) have work waiting for the check phase, which must
    // not wait for some unrelated wake-up. Messages left over (the callback drains in
    // bounded batches) are picked up next turn, after this batch is committed.
    if (before_poll || !complete) {
        uv_idle_start(idle_.get(), [](uv_idle_t*) {});
    } else {
        uv_idle_stop(idle_.get());
    }
}

}  // namespace zq::node
