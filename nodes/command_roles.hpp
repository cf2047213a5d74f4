// Which port takes which command: a pure policy (tests/test_command_roles.cpp).
//
// Peer commands (membership, placement, reports, claims, keys, broadcast repair, and the
// forms of BROADCAST and CANCEL that name their sending node) are taken only on the peer port;
// client commands (SUBMIT, WORKFLOW, CONTROL, and a client's BROADCAST and CANCEL) only on the
// client port. Replies and stream messages (ACCEPTED, REJECTED, CONTROL-REPLY, EVENT, TAP)
// are taken on neither.
#pragma once

#include <zq/codec.hpp>

namespace zq::node {

enum class CommandRole { client, peer, neither };

CommandRole role_of(const Message& message);

}  // namespace zq::node
