// Where Security meets the node's sockets: the CURVE options of the sockets it binds (as a
// server of a ZAP domain) and of those it connects (as a client of a peer's key).
//
// libzmq copies a socket's security options when it binds or connects, so one socket can
// serve ipc in the clear and tcp with CURVE: bind_secured() sets the options for each endpoint
// just before binding it.
#pragma once

#include "security.hpp"

#include <zq/result.hpp>

#include <zmq.hpp>

#include <string>
#include <string_view>

namespace zq::node {

// Makes the socket's next binds CURVE servers in `domain` (when security.curve()), with the
// node's key pair; the ZAP handler then admits clients by that domain's allow-list.
Status secure_bound_socket(zmq::socket_t& socket, const Security& security, std::string_view domain);
// Binds one endpoint: tcp secured for `domain` (secure_bound_socket), ipc in the clear.
Status bind_secured(zmq::socket_t& socket, const Security& security, std::string_view domain,
                    const std::string& endpoint);
// Sets the socket up for its next connect to a peer at `endpoint` whose public key is
// `peer_key` (Z85): CURVE with the node's own pair on tcp, when security.curve(); in the clear
// otherwise (ipc, or no keys).
void prepare_peer_connection(zmq::socket_t& socket, const Security& security, std::string_view endpoint,
                             std::string_view peer_key);

}  // namespace zq::node
