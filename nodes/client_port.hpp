// The node's client port: one ROUTER socket bound to ipc://DATA/node.sock and to every
// --bind endpoint. It drains incoming messages in bounded batches, decodes them, answers
// malformed ones with REJECTED (and counts them), and hands the rest to a handler.
#pragma once

#include "event_loop.hpp"
#include "security.hpp"

#include <zq/codec.hpp>
#include <zq/result.hpp>

#include <zmq.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace zq::node {

class ClientPort {
public:
    // `user_id` is the connection's ZAP User-Id: the client's public key (Z85) on a CURVE
    // connection, empty on ipc.
    using Handler =
        std::function<void(const std::string& client, const Message& message, const std::string& user_id)>;

    ClientPort(zmq::context_t& context, const protocol::Limits& limits);
    // Binds each endpoint; tcp ones as CURVE servers in domain "client" when `security` says so.
    Status bind(const std::vector<std::string>& endpoints, const Security& security);
    // Starts watching the socket on the loop; `handler` gets every well-formed message.
    void start(uv_loop_t* loop, Handler handler);
    // Sends to one client; false when the client is gone or its queue is full.
    bool send(const std::string& client, protocol::Command command, std::string_view body);
    void close();

    std::uint64_t malformed() const { return malformed_; }
    std::uint64_t received() const { return received_; }

private:
    // Handles up to a batch of messages; true when none were left.
    bool drain();

    zmq::socket_t socket_;
    protocol::Limits limits_;
    Handler handler_;
    std::unique_ptr<ZmqWatcher> watcher_;
    std::uint64_t malformed_ = 0;
    std::uint64_t received_ = 0;
};

}  // namespace zq::node
