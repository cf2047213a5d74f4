// Messages the dispatcher has decided to send and holds until the turn's commit: to a
// client (by ROUTER identity) and to a peer (by node name).
#pragma once

#include <zq/protocol.hpp>

#include <string>

namespace zq::node {

struct ClientMessage {
    std::string client;
    protocol::Command command;
    std::string body;
};

struct PeerMessage {
    std::string node;
    protocol::Command command;
    std::string body;

    bool operator==(const PeerMessage&) const = default;
};

}  // namespace zq::node
