#include "support/cluster.hpp"

#include <zq/client.hpp>
#include <zq/json.hpp>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>

namespace zq::test {

int free_tcp_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) throw std::runtime_error("socket() failed");
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    socklen_t length = sizeof address;
    const bool found = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
                       ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
    ::close(fd);
    if (!found) throw std::runtime_error("no free tcp port on 127.0.0.1");
    return ntohs(address.sin_port);
}

std::string loopback_endpoint(int port) { return "tcp://127.0.0.1:" + std::to_string(port); }

std::unique_ptr<NodeProcess> start_peered_node(const std::string& name, const std::string& config,
                                               const std::vector<std::string>& peers, unsigned min_workers,
                                               unsigned max_workers) {
    NodeOptions options{.name = name, .config = config, .min_workers = min_workers, .max_workers = max_workers};
    for (const auto& peer : peers) {
        options.extra_args.push_back("--peer");
        options.extra_args.push_back(peer);
    }
    return std::make_unique<NodeProcess>(options);
}

bool sees_alive(NodeProcess& node, const std::string& name) {
    Client client(node.endpoint());
    auto reply = client.control("peers");
    if (!reply) return false;
    for (const auto& peer : packed_to_json(*reply)) {
        if (peer["name"] == name) return peer["state"] == "alive";
    }
    return false;
}

bool sees_capacity(NodeProcess& node, const std::string& name) {
    Client client(node.endpoint());
    auto reply = client.control("peers");
    if (!reply) return false;
    for (const auto& peer : packed_to_json(*reply)) {
        if (peer["name"] == name) return peer["state"] == "alive" && peer["capacity"].get<int>() >= 1;
    }
    return false;
}

bool turn_tap_on(const std::string& endpoint) {
    return run_command({ZQ_BIN_DIR "/zq-node", "trace", "on", "--node", endpoint}).exit_code == 0;
}

}  // namespace zq::test
