// libuv helpers for the node's single-threaded loop: owned handles that close themselves,
// and a watcher that turns a zmq socket's edge-triggered ZMQ_FD into reliable "drain now"
// calls.
#pragma once

#include <uv.h>
#include <zmq.hpp>

#include <functional>
#include <memory>

namespace zq::node {

// Every uv handle zq owns lives in one of these: closing is asynchronous in libuv, so the
// memory is released in the close callback, never while the loop may still touch it.
template <class Handle>
class UvHandle {
public:
    UvHandle() : handle_(new Handle{}) {}
    ~UvHandle() { close(); }
    UvHandle(const UvHandle&) = delete;
    UvHandle& operator=(const UvHandle&) = delete;

    Handle* get() { return handle_; }
    Handle* operator->() { return handle_; }

    void close() {
        if (!handle_) return;
        auto* raw = reinterpret_cast<uv_handle_t*>(handle_);
        handle_ = nullptr;
        // A handle that was never initialised has no loop and can be freed at once.
        if (raw->loop && !uv_is_closing(raw)) {
            uv_close(raw, [](uv_handle_t* closed) { delete reinterpret_cast<Handle*>(closed); });
        } else if (!raw->loop) {
            delete reinterpret_cast<Handle*>(raw);
        }
    }

private:
    Handle* handle_;
};

// A repeating or one-shot timer calling a std::function.
class Timer {
public:
    explicit Timer(uv_loop_t* loop);
    Timer(uv_loop_t* loop, std::function<void()> callback);
    void start(double seconds, std::function<void()> callback, bool repeat = false);
    // Restarts with the callback already set; safe to call from inside that callback.
    void start(double seconds, bool repeat = false);
    void stop();

private:
    UvHandle<uv_timer_t> timer_;
    std::function<void()> callback_;
};

// Calls `on_readable` whenever the zmq socket may have messages; it returns true when it read
// until zmq had nothing more (EAGAIN), false when it stopped at its batch limit. ZMQ_FD only
// signals edges, and a send can consume the edge, so before the loop blocks the watcher checks
// ZMQ_EVENTS, but only when that can matter: after a send (sent()) or a drain that stopped
// early. (Each check of an idle socket costs libzmq two system calls.) While messages remain
// it keeps the loop spinning with an idle handle.
class ZmqWatcher {
public:
    ZmqWatcher(uv_loop_t* loop, zmq::socket_t& socket, std::function<bool()> on_readable);
    ~ZmqWatcher();
    ZmqWatcher(const ZmqWatcher&) = delete;
    ZmqWatcher& operator=(const ZmqWatcher&) = delete;

    // Something was sent on the socket: look at ZMQ_EVENTS before the loop blocks.
    void sent() { check_before_sleep_ = true; }

private:
    bool readable();
    void drain(bool before_poll);

    zmq::socket_t& socket_;
    std::function<bool()> on_readable_;
    bool check_before_sleep_ = true;
    UvHandle<uv_poll_t> poll_;
    UvHandle<uv_prepare_t> prepare_;
    UvHandle<uv_idle_t> idle_;
};

}  // namespace zq::node
