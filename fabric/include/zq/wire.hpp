// Sending and receiving whole ZQP/1 messages on zmq sockets.
#pragma once

#include <zq/codec.hpp>

#include <zmq.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace zq {

// Sends [identity]? [ZQP1][command][body]. Returns false when the socket would block or the
// peer is unroutable (ROUTER_MANDATORY); the caller decides what that means.
bool send_message(zmq::socket_t& socket, protocol::Command command, std::string_view body,
                  std::string_view identity = {});

struct Received {
    std::string identity;  // empty unless the socket is a ROUTER
    Result<Message> message;
};

// Receives one whole multipart message without blocking; nullopt when none is waiting.
// `router` says whether the first frame is a routing identity.
std::optional<Received> receive_message(zmq::socket_t& socket, bool router,
                                        const protocol::Limits& limits = {});

}  // namespace zq
