// Sending and receiving whole ZQP/1 messages on zmq sockets.
#pragma once

#include <zq/codec.hpp>

#include <zmq.hpp>

#include <cerrno>
#include <optional>
#include <string>
#include <string_view>

namespace zq {

// Runs a zmq call again for as long as it fails with EINTR. A signal caught by the process
// (zq-node's loop catches SIGCHLD whenever a worker exits) interrupts the poll zmq makes
// inside send, recv and getsockopt(ZMQ_EVENTS); zmq then gives up having done nothing, so
// the call is safe to repeat, and must be: cppzmq throws for EINTR.
template <class Call>
decltype(auto) retry_interrupted(Call&& call) {
    for (;;) {
        try {
            return call();
        } catch (const zmq::error_t& error) {
            if (error.num() != EINTR) throw;
        }
    }
}

// Sends [identity]? [ZQP1][command][body]. Returns false when the socket would block or the
// peer is unroutable (ROUTER_MANDATORY); the caller decides what that means.
bool send_message(zmq::socket_t& socket, protocol::Command command, std::string_view body,
                  std::string_view identity = {});

struct Received {
    std::string identity;  // empty unless the socket is a ROUTER
    Result<Message> message;
    // ROUTER only: the User-Id the ZAP handler gave the connection (a CURVE client's public
    // key, Z85); empty on connections that were not authenticated (ipc).
    std::string user_id;
};

// Receives one whole multipart message without blocking; nullopt when none is waiting.
// `router` says whether the first frame is a routing identity.
std::optional<Received> receive_message(zmq::socket_t& socket, bool router,
                                        const protocol::Limits& limits = {});

}  // namespace zq
