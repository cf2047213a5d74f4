// A port of the node: one ROUTER socket bound to a list of endpoints. The node has two, the
// client port (ipc://DATA/node.sock and every --bind) and the peer port (ipc://DATA/peer.sock
// and every peer_bind), so that what a client can reach is never where peers are trusted
// (docs/architecture.md, "Peers apart from clients").
//
// A port drains incoming messages in bounded batches, decodes them, answers malformed ones with
// REJECTED (and counts them), drops for a while the messages of a sender that sends malformed
// ones at a high rate (malformed_guard.hpp), and hands the rest to a handler. Which commands a
// port takes is the node's decision (command_roles.hpp); the port counts what it refuses.
#pragma once

#include "event_loop.hpp"
#include "log_throttle.hpp"
#include "malformed_guard.hpp"

#include <zq/codec.hpp>
#include <zq/result.hpp>

#include <zmq.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace zq::node {

class RouterPort {
public:
    using Handler = std::function<void(const std::string& sender, const Message& message)>;

    // `role` names the port in logs ("client", "peer").
    RouterPort(zmq::context_t& context, const protocol::Limits& limits, std::string role);
    Status bind(const std::vector<std::string>& endpoints);
    // Starts watching the socket on the loop; `handler` gets every well-formed message.
    void start(uv_loop_t* loop, Handler handler);
    // Sends to one sender; false when it is gone or its queue is full.
    bool send(const std::string& sender, protocol::Command command, std::string_view body);
    // Answers REJECTED with `body` to a command this port does not take, logs it (at most one
    // line a second) and counts it in refused().
    void refuse(const std::string& sender, std::string_view body, std::string_view why);
    void close();

    const std::string& role() const { return role_; }
    std::uint64_t malformed() const { return malformed_; }
    std::uint64_t received() const { return received_; }
    std::uint64_t refused() const { return refused_; }
    // Senders ignored for a while for a flood of malformed messages (malformed_guard.hpp).
    std::uint64_t malformed_disconnects() const { return guard_.disconnects(); }

private:
    // Handles up to a batch of messages; true when none were left.
    bool drain();

    zmq::socket_t socket_;
    protocol::Limits limits_;
    std::string role_;
    Handler handler_;
    std::unique_ptr<ZmqWatcher> watcher_;
    MalformedGuard guard_;
    LogThrottle malformed_log_;
    LogThrottle refused_log_;
    std::uint64_t malformed_ = 0;
    std::uint64_t received_ = 0;
    std::uint64_t refused_ = 0;
};

}  // namespace zq::node
