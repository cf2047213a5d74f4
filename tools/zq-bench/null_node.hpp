// A stand-in for zq-node that runs nothing and only answers, for `zq-bench --null-node`.
//
// It lets zq-bench measure the client side alone: zq::Client's pipelining (post, next_reply),
// the ZQP codec and zq-bench itself, with a server whose own cost is one decode and two small
// replies per task. It is a ZMQ ROUTER on an ipc:// socket in a fresh temporary directory,
// served by a thread of the zq-bench process. It answers
//   SUBMIT  with ACCEPTED {id, st: "queued", node} and, when the submission sets watch,
//           STATE {id, st: "succeeded", task, node, res: nil}, as zq-node does for a no-op;
//   CONTROL with a refusal (it has no status to give), which zq-bench's first request accepts;
//   anything else, or a message it cannot decode, with REJECTED and the reason.
// An ipc:// socket rather than inproc://: zq::Client makes its own zmq context, and inproc
// endpoints are only reachable within one context.
#pragma once

#include <zq/result.hpp>

#include <zmq.hpp>

#include <memory>
#include <string>
#include <thread>

namespace zq::bench {

class NullNode {
public:
    // Binds the socket and starts the answering thread; an error names what failed.
    static Result<std::unique_ptr<NullNode>> start();
    // Stops the thread and removes the temporary directory.
    ~NullNode();
    NullNode(const NullNode&) = delete;
    NullNode& operator=(const NullNode&) = delete;

    // The ipc:// endpoint a zq::Client connects to.
    const std::string& endpoint() const { return endpoint_; }

private:
    NullNode(std::string directory, std::string endpoint);
    // The thread's loop: answers every message until the context is shut down.
    void serve();

    std::string directory_;
    std::string endpoint_;
    zmq::context_t context_;
    zmq::socket_t socket_;  // bound by start(), then used by the thread alone
    std::thread thread_;
};

}  // namespace zq::bench
