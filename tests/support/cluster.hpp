// Helpers for tests that run several real nodes that peer with each other.
#pragma once

#include "support/node_process.hpp"

#include <memory>
#include <string>
#include <vector>

namespace zq::test {

// Heartbeats fast enough that a test sees a peer join (or get lost) in about a second.
inline constexpr const char* kFastHeartbeats = "heartbeat_interval = 0.2\nheartbeat_liveness = 3\n";

// A TCP port on 127.0.0.1 that was free a moment ago (the kernel chose it), for nodes that
// must bind tcp endpoints.
int free_tcp_port();
// `tcp://127.0.0.1:PORT`.
std::string loopback_endpoint(int port);

// Starts a node named `name` with `config` that peers with the nodes at `peers`.
std::unique_ptr<NodeProcess> start_peered_node(const std::string& name, const std::string& config,
                                               const std::vector<std::string>& peers, unsigned min_workers,
                                               unsigned max_workers);

// `node` sees peer `name` alive.
bool sees_alive(NodeProcess& node, const std::string& name);

// `node` sees peer `name` alive and has heard that it has a free worker.
bool sees_capacity(NodeProcess& node, const std::string& name);

// Turns the protocol tap of the node at `endpoint` on, with `zq-node trace on`.
bool turn_tap_on(const std::string& endpoint);

}  // namespace zq::test
