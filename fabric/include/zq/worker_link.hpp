// The worker link: how zq-node and a worker process talk over the socketpair the node
// passes as file descriptor 3 (or ZQ_WORKER_FD). Each frame is a 4-byte big-endian length
// followed by a msgpack map; several frames may travel in one write. The worker answers
// READY once at start and DONE after each task, in the order the RUNs came.
//
// Prefetch: when its queue is deep the node may hand a worker more RUNs than it can start
// (docs/architecture.md, "Prefetch and work stealing"). Such a RUN carries `ann`, and the
// worker says STARTED when it starts it (in the same write as the previous DONE), so that the
// node knows which task runs and starts its time limits then. STOP asks the named job to stop
// (cancel, soft time limit): a queued one is handed back unrun with RETURNED, the running one
// sees the request. STEAL takes back up to `n` queued jobs, the last ones first (RETURNED,
// possibly empty). The worker reads the link on a thread of its own, so these are answered
// while a long task runs.
#pragma once

#include <zq/codec.hpp>

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>

namespace zq::worker_link {

inline constexpr int kDefaultFd = 3;
// The environment variable naming the link's descriptor, and the parent's pid (so a worker
// can notice it was orphaned before it set its parent-death signal).
inline constexpr const char* kFdEnv = "ZQ_WORKER_FD";
inline constexpr const char* kParentPidEnv = "ZQ_PARENT_PID";
inline constexpr std::uint32_t kMaxFrameBytes = 64u << 20;

namespace op {
inline constexpr std::string_view ready = "ready";  // worker → node: {op, pid}
inline constexpr std::string_view run = "run";      // node → worker: {op, id, task, args, kw, exec?, olim?, rexit?}
inline constexpr std::string_view done = "done";    // worker → node: {op, id, ok, res?, err?, retry?, rin?}
inline constexpr std::string_view stop = "stop";    // node → worker: {op, id}
inline constexpr std::string_view steal = "steal";  // node → worker: {op, n}
inline constexpr std::string_view started = "started";    // worker → node: {op, id}
inline constexpr std::string_view returned = "returned";  // worker → node: {op, ids, steal?}
}  // namespace op

namespace field {
inline constexpr std::string_view operation = "op";
inline constexpr std::string_view pid = "pid";
inline constexpr std::string_view id = "id";
inline constexpr std::string_view task = "task";
inline constexpr std::string_view args = "args";
inline constexpr std::string_view kwargs = "kw";
inline constexpr std::string_view exec = "exec";                // argv of an exec task
inline constexpr std::string_view output_limit = "olim";       // bytes of stdout/stderr kept
inline constexpr std::string_view ok = "ok";
inline constexpr std::string_view result = "res";
inline constexpr std::string_view error = "err";
inline constexpr std::string_view announce = "ann";  // say STARTED when this RUN starts
inline constexpr std::string_view count = "n";
inline constexpr std::string_view ids = "ids";
inline constexpr std::string_view steal = "steal";  // in RETURNED: true when it answers a STEAL
inline constexpr std::string_view retry = "retry";  // in DONE: the task asks to be run again
inline constexpr std::string_view retry_countdown = "rin";  // in DONE: seconds to wait first
inline constexpr std::string_view retry_exit_code = "rexit";  // in RUN: an exec exit status asking for a retry
}  // namespace field

// The finished body with its length prefix in front, ready to write.
std::string frame(BodyWriter& body);

// Accumulates bytes from the link and hands out whole frames.
class FrameReader {
public:
    void feed(const char* data, std::size_t size);
    // The next whole frame's body, an empty string_view when none is complete yet, or an
    // error when the stream is corrupt (a frame larger than kMaxFrameBytes, or an empty
    // frame: every frame holds a msgpack map). The view stays valid until the next feed().
    Result<std::string_view> next();

private:
    std::string buffer_;
    std::size_t consumed_ = 0;
};

}  // namespace zq::worker_link
