// Which port takes which command (nodes/command_roles.hpp): every peer command of the spec is
// a peer command, every client command a client command, and BROADCAST and CANCEL are told
// apart by the fields a peer adds.
#include "command_roles.hpp"

#include <zq/codec.hpp>

#include <catch2/catch.hpp>

using zq::node::CommandRole;
using zq::node::role_of;
using zq::protocol::Command;

namespace {

CommandRole role(Command command, zq::BodyWriter& body) {
    std::string bytes(body.finish());
    std::string header(zq::protocol::kHeader);
    auto message = zq::decode(header, std::string(1, static_cast<char>(command)), bytes);
    REQUIRE(message);
    return role_of(*message);
}

}  // namespace

TEST_CASE("peer commands belong on the peer port, client commands on the client port") {
    for (Command command : {Command::hello, Command::welcome, Command::heartbeat, Command::disconnect}) {
        zq::BodyWriter body;
        body.add("node", "a").add("inc", "i");
        CHECK(role(command, body) == CommandRole::peer);
    }
    for (Command command : {Command::taken, Command::state_ack}) {
        zq::BodyWriter body;
        body.add("id", "j").add("node", "a");
        CHECK(role(command, body) == CommandRole::peer);
    }
    zq::BodyWriter state;
    state.add("id", "j").add("st", "succeeded");
    CHECK(role(Command::state, state) == CommandRole::peer);
    zq::BodyWriter submit;
    submit.add("id", "j").add("task", "t");
    CHECK(role(Command::submit, submit) == CommandRole::client);
    zq::BodyWriter forward;
    forward.add("id", "j").add("task", "t").add("node", "a");
    CHECK(role(Command::forward, forward) == CommandRole::peer);
    zq::BodyWriter control;
    control.add("op", "status");
    CHECK(role(Command::control, control) == CommandRole::client);
    zq::BodyWriter event;
    event.add("node", "a").add("seq", std::uint64_t{1});
    CHECK(role(Command::event, event) == CommandRole::neither);
}

TEST_CASE("BROADCAST with targets and CANCEL naming a node are a peer's") {
    zq::BodyWriter request;
    request.add("id", "b").add("task", "t");
    CHECK(role(Command::broadcast, request) == CommandRole::client);
    zq::BodyWriter published;
    published.add("id", "b").add("task", "t").add("node", "a").add_value("tgts", std::vector<std::string>{"a"});
    CHECK(role(Command::broadcast, published) == CommandRole::peer);
    zq::BodyWriter cancel;
    cancel.add("id", "j");
    CHECK(role(Command::cancel, cancel) == CommandRole::client);
    zq::BodyWriter relayed;
    relayed.add("id", "j").add("node", "a");
    CHECK(role(Command::cancel, relayed) == CommandRole::peer);
}
