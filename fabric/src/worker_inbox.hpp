// The worker's end of the link (worker_link.hpp): a thread that reads it, keeps the RUNs
// in the order they came, and answers STOP and STEAL at once, even while a long task runs
// on the main thread; and a write side that the two threads share, one whole write at a
// time.
#pragma once

#include <zq/codec.hpp>
#include <zq/result.hpp>
#include <zq/worker_link.hpp>

#include <msgpack.hpp>

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace zq::worker_inbox {

// A RUN frame, unpacked once by the reader and handed to the main thread.
struct QueuedRun {
    std::string id;
    msgpack::object_handle body;
    bool announce = false;  // the node waits for STARTED
};

class Inbox : public std::enable_shared_from_this<Inbox> {
public:
    // `request_stop` runs (on the reader thread) when the running task is asked to stop.
    Inbox(int fd, void (*request_stop)());
    Inbox(const Inbox&) = delete;
    Inbox& operator=(const Inbox&) = delete;

    // Starts the reader thread (detached: it ends with the process, and shares the inbox so
    // that the inbox outlives whoever made it). The inbox must be owned by a shared_ptr.
    void start();
    // The next RUN, which becomes the running task; with `wait`, blocks until one comes or
    // the link ends (then nullopt). `on_take` runs under the inbox's lock, so that a STOP
    // for the new task cannot slip in before it.
    std::optional<QueuedRun> take(bool wait, void (*on_take)());
    // The running task ended: a STOP for it no longer applies.
    void finished();
    // Writes whole frames (one or more) to the node.
    Status send(std::string_view frames);
    // Why the link ended: empty when the node closed it.
    std::string failure();

private:
    void read_loop();
    void on_frame(std::string_view frame);
    void stop(std::string id);
    void steal(std::uint64_t count);
    void returned(const std::vector<std::string>& ids, bool answers_steal);

    int fd_;
    void (*request_stop_)();
    std::mutex write_mutex_;
    std::mutex mutex_;  // guards what follows
    std::condition_variable arrived_;
    std::deque<QueuedRun> queue_;
    std::string running_;
    bool closed_ = false;
    std::string failure_;
};

}  // namespace zq::worker_inbox
