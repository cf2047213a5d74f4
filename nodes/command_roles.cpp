#include "command_roles.hpp"

namespace zq::node {

using protocol::Command;
namespace f = protocol::field;

CommandRole role_of(const Message& message) {
    switch (message.command()) {
        case Command::submit:
        case Command::workflow:
        case Command::control: return CommandRole::client;
        // A peer's BROADCAST names its targets; a client's request does not.
        case Command::broadcast: return message.find(f::targets) ? CommandRole::peer : CommandRole::client;
        // An origin canceling at the owner names itself; a client does not.
        case Command::cancel: return message.find(f::node) ? CommandRole::peer : CommandRole::client;
        case Command::hello:
        case Command::welcome:
        case Command::heartbeat:
        case Command::disconnect:
        case Command::forward:
        case Command::taken:
        case Command::state:
        case Command::state_ack:
        case Command::claim:
        case Command::claimed:
        case Command::key_acquire:
        case Command::key_answer:
        case Command::key_release:
        case Command::repair:
        case Command::gone: return CommandRole::peer;
        default: return CommandRole::neither;
    }
}

}  // namespace zq::node
