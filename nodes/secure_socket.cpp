#include "secure_socket.hpp"

#include <zq/credentials.hpp>
#include <zq/curve.hpp>

namespace zq::node {

Status secure_bound_socket(zmq::socket_t& socket, const Security& security, std::string_view domain) {
    try {
        if (!security.curve()) {
            socket.set(zmq::sockopt::curve_server, 0);
            return success();
        }
        socket.set(zmq::sockopt::curve_server, 1);
        socket.set(zmq::sockopt::curve_secretkey, security.own().secret_key);
        socket.set(zmq::sockopt::curve_publickey, security.own().public_key);
        socket.set(zmq::sockopt::zap_domain, domain);
    } catch (const zmq::error_t& error) {
        return Error{std::string("cannot set CURVE options: ") + error.what()};
    }
    return success();
}

Status bind_secured(zmq::socket_t& socket, const Security& security, std::string_view domain,
                    const std::string& endpoint) {
    if (is_tcp_endpoint(endpoint)) {
        if (auto secured = secure_bound_socket(socket, security, domain); !secured) return secured;
    } else {
        // ipc: the NULL mechanism. The ZAP domain stays (libzmq 4.3 cannot clear it), so the
        // handler is still asked, and admits NULL: the socket file's mode guards ipc.
        socket.set(zmq::sockopt::curve_server, 0);
    }
    try {
        socket.bind(endpoint);
    } catch (const zmq::error_t& error) {
        return Error{"cannot bind " + endpoint + ": " + error.what()};
    }
    return success();
}

void prepare_peer_connection(zmq::socket_t& socket, const Security& security, std::string_view endpoint,
                             std::string_view peer_key) {
    if (!security.curve()) {
        prepare_connection(socket, endpoint, "", "", "");
        return;
    }
    prepare_connection(socket, endpoint, security.own().public_key, security.own().secret_key, peer_key);
}

}  // namespace zq::node
