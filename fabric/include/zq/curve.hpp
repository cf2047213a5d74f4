// Applying CURVE credentials to zmq sockets, for the client side of every connection zq
// makes: zq::Client, zq::Events, and a node's peer links and subscriptions.
//
// libzmq copies a socket's security options when it connects, so one socket may connect to
// an ipc endpoint in the clear and to a tcp endpoint with CURVE: call prepare_connection()
// before each connect().
#pragma once

#include <zq/credentials.hpp>

#include <zmq.hpp>

#include <string_view>

namespace zq {

// Sets the socket up for its next connect(): CURVE as a client of `server_key` (Z85) with
// the given pair when `endpoint` is tcp and a server key is given, the NULL mechanism
// otherwise.
void prepare_connection(zmq::socket_t& socket, std::string_view endpoint, std::string_view public_key,
                        std::string_view secret_key, std::string_view server_key);
inline void prepare_connection(zmq::socket_t& socket, std::string_view endpoint, const Credentials& credentials) {
    prepare_connection(socket, endpoint, credentials.public_key, credentials.secret_key, credentials.server_key);
}

}  // namespace zq
