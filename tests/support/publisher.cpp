#include "support/publisher.hpp"

#include <zq/codec.hpp>
#include <zq/protocol.hpp>
#include <zq/wire.hpp>

#include <stdexcept>

namespace zq::test {

namespace {

// The fields every published message starts with.
void add_publisher_fields(BodyWriter& body, const std::string& node, std::uint64_t seq) {
    body.add("node", node).add("inc", "inc-1").add("seq", seq).add("t", std::uint64_t{kFakeEpochUs + seq});
}

}  // namespace

FakePublisher::FakePublisher()
    : endpoint_("ipc://" + dir_.path() + "/pub.sock"), socket_(context_, zmq::socket_type::xpub) {
    socket_.set(zmq::sockopt::linger, 0);
    // Every subscription, also one another subscriber already made, so that each is seen.
    socket_.set(zmq::sockopt::xpub_verbose, 1);
    socket_.bind(endpoint_);
}

bool FakePublisher::await_subscriber(const std::string& topic, std::chrono::milliseconds deadline) {
    // An XPUB socket hands out each subscription as a message: byte 1, then the topic.
    constexpr char kSubscribe = 1;
    return wait_until(
        [&] {
            zmq::message_t message;
            while (socket_.recv(message, zmq::recv_flags::dontwait)) {
                const std::string text = message.to_string();
                if (!text.empty() && text[0] == kSubscribe) subscriptions_.insert(text.substr(1));
            }
            auto found = subscriptions_.find(topic);
            if (found == subscriptions_.end()) return false;
            subscriptions_.erase(found);
            return true;
        },
        deadline);
}

void FakePublisher::event(const FakeEvent& event) {
    BodyWriter body;
    add_publisher_fields(body, event.node, event.seq);
    body.add("id", event.id).add("st", event.state).add("task", event.task).add("q", event.queue);
    if (!event.error.empty()) body.add("err", event.error);
    const std::string topic = "E/" + event.state + "/" + event.queue + "/" + event.task;
    if (!send_message(socket_, protocol::Command::event, body.finish(), topic)) {
        throw std::runtime_error("the fake publisher could not send an EVENT");
    }
}

void FakePublisher::tap(const FakeTap& tap) {
    BodyWriter envelope;
    envelope.add("id", tap.id).add("task", "zq.echo").add("q", tap.queue);
    BodyWriter body;
    add_publisher_fields(body, tap.node, tap.seq);
    body.add("dir", tap.direction).add("peer", tap.peer).add("cmd", tap.command).add("id", tap.id);
    body.add_packed("body", envelope.finish());
    if (!send_message(socket_, protocol::Command::tap, body.finish(), "T/" + tap.command)) {
        throw std::runtime_error("the fake publisher could not send a TAP");
    }
}

void FakePublisher::broadcast(std::string_view body) {
    if (!send_message(socket_, protocol::Command::broadcast, body, "B")) {
        throw std::runtime_error("the fake publisher could not send a BROADCAST");
    }
}

}  // namespace zq::test
