// zq::Events, the subscription API: decoding, client-side filtering and gap detection against
// a PUB socket of the test's own, then against real nodes.
#include "support/node_process.hpp"

#include <zq/codec.hpp>
#include <zq/events.hpp>
#include <zq/json.hpp>
#include <zq/protocol.hpp>
#include <zq/wire.hpp>

#include <catch2/catch.hpp>

#include <zmq.hpp>

#include <map>
#include <string>
#include <vector>

using namespace zq::test;
using zq::Event;
using zq::EventKind;
using zq::Events;
using zq::Subscription;
using zq::Task;
using zq::protocol::Command;

namespace {

using namespace std::chrono_literals;

// Event times: a fixed unix µs plus the sequence number, so that each message's is known.
constexpr std::uint64_t kEpochUs = 1'700'000'000'000'000;

// A stand-in for a node's publisher: binds a PUB socket and publishes what the test builds.
class Publisher {
public:
    Publisher() : socket_(context_, zmq::socket_type::pub) {
        socket_.set(zmq::sockopt::linger, 0);
        socket_.bind(endpoint_);
    }

    const std::string& endpoint() const { return endpoint_; }

    // EVENT {node, inc, seq, t, id, st, task, q}, on the topic a node would use.
    void event(std::uint64_t seq, const std::string& id, const std::string& state, const std::string& task,
               const std::string& queue = "default", const std::string& node = "pub") {
        zq::BodyWriter body;
        body.add("node", node).add("inc", "inc-1").add("seq", seq).add("t", std::uint64_t{kEpochUs + seq});
        body.add("id", id).add("st", state).add("task", task).add("q", queue);
        publish("E/" + state + "/" + queue + "/" + task, Command::event, body.finish());
    }

    // TAP of a SUBMIT the node received from a client, carrying the envelope as its body.
    void tapped_submit(std::uint64_t seq, const std::string& id, const std::string& queue) {
        zq::BodyWriter envelope;
        envelope.add("id", id).add("task", "zq.echo").add("q", queue);
        zq::BodyWriter body;
        body.add("node", "pub").add("inc", "inc-1").add("seq", seq).add("t", std::uint64_t{kEpochUs + seq});
        body.add("dir", "in").add("peer", "client:00aabbccdd").add("cmd", "SUBMIT").add("id", id);
        body.add_packed("body", envelope.finish());
        publish("T/SUBMIT", Command::tap, body.finish());
    }

    // Publishes `send_one` again until the subscriber receives what it sent: a SUB socket
    // may join after the first copy went out, and the copies after the first are
    // duplicates the subscriber drops.
    void until_received(Events& events, const std::function<void()>& send_one, const std::function<bool(const Event&)>& is_it) {
        REQUIRE(wait_until([&] {
            send_one();
            auto event = events.next(50ms);
            return event && is_it(*event);
        }));
    }

private:
    void publish(const std::string& topic, Command command, std::string_view body) {
        REQUIRE(zq::send_message(socket_, command, body, topic));
    }

    TempDir dir_;
    std::string endpoint_ = "ipc://" + dir_.path() + "/pub.sock";
    zmq::context_t context_;
    zmq::socket_t socket_;
};

Events subscribe(const std::string& publisher, zq::EventFilter filter = {}) {
    Subscription subscription;
    subscription.publishers = {publisher};
    subscription.filter = std::move(filter);
    auto events = Events::open(std::move(subscription));
    INFO((events ? "" : events.error()));
    REQUIRE(events);
    return std::move(*events);
}

std::vector<Event> drain(Events& events, std::size_t wanted) {
    std::vector<Event> received;
    while (received.size() < wanted) {
        auto event = events.next(kDeadline);
        if (!event) break;
        received.push_back(std::move(*event));
    }
    return received;
}

}  // namespace

TEST_CASE("events are decoded from what a publisher sends, and only those passing the filter come out") {
    Publisher publisher;
    zq::EventFilter filter;
    filter.states = {"succeeded"};
    filter.tasks = {"zq.echo"};
    Events events = subscribe(publisher.endpoint(), filter);
    publisher.until_received(
        events, [&] { publisher.event(1, "first", "succeeded", "zq.echo"); },
        [](const Event& event) { return event.id == "first"; });

    publisher.event(2, "echo-queued", "queued", "zq.echo");
    publisher.event(3, "sleep-done", "succeeded", "zq.sleep");
    publisher.event(4, "echo-done", "succeeded", "zq.echo", "build");
    publisher.event(5, "echo-failed", "failed", "zq.echo");
    publisher.event(6, "last", "succeeded", "zq.echo");

    auto received = drain(events, 2);
    REQUIRE(received.size() == 2);
    CHECK(received[0].id == "echo-done");
    CHECK(received[0].kind == EventKind::event);
    CHECK(received[0].command == "EVENT");
    CHECK(received[0].node == "pub");
    CHECK(received[0].incarnation == "inc-1");
    CHECK(received[0].seq == 4);
    CHECK(received[0].time_us == kEpochUs + 4);
    CHECK(received[0].queue == "build");
    CHECK(received[1].id == "last");
    CHECK_FALSE(events.next(50ms));
    auto counters = events.counters();
    REQUIRE(counters.size() == 1);
    CHECK(counters[0].received == 6);
    CHECK(counters[0].missed == 0);
}

TEST_CASE("a jump in a stream's sequence numbers comes out as a gap before the message that shows it") {
    Publisher publisher;
    Events events = subscribe(publisher.endpoint());
    publisher.until_received(
        events, [&] { publisher.event(1, "one", "queued", "zq.echo"); },
        [](const Event& event) { return event.id == "one"; });

    publisher.event(2, "two", "queued", "zq.echo");
    publisher.event(5, "five", "queued", "zq.echo");
    // A publisher reached twice (or a late copy) is handed out once.
    publisher.event(5, "five", "queued", "zq.echo");
    publisher.event(6, "six", "queued", "zq.echo");

    auto received = drain(events, 4);
    REQUIRE(received.size() == 4);
    CHECK(received[0].id == "two");
    CHECK(received[1].kind == EventKind::gap);
    CHECK(received[1].node == "pub");
    CHECK(received[1].command == "EVENT");
    CHECK(received[1].gap_from == 3);
    CHECK(received[1].gap_to == 4);
    CHECK(received[2].id == "five");
    CHECK(received[3].id == "six");
    CHECK_FALSE(events.next(50ms));
    CHECK(events.counters().at(0).missed == 2);
}

TEST_CASE("a tap names the tapped command, keeps its body and takes the queue from the envelope") {
    Publisher publisher;
    zq::EventFilter filter;
    filter.commands = {"submit"};
    filter.queues = {"build"};
    Events events = subscribe(publisher.endpoint(), filter);
    publisher.until_received(
        events, [&] { publisher.tapped_submit(1, "first", "build"); },
        [](const Event& event) { return event.id == "first"; });

    publisher.event(1, "an-event", "queued", "zq.echo", "build");
    publisher.tapped_submit(2, "elsewhere", "default");
    publisher.tapped_submit(3, "wanted", "build");

    auto received = drain(events, 1);
    REQUIRE(received.size() == 1);
    const Event& tap = received[0];
    CHECK(tap.kind == EventKind::tap);
    CHECK(tap.id == "wanted");
    CHECK(tap.command == "SUBMIT");
    CHECK(tap.direction == "in");
    CHECK(tap.peer == "client:00aabbccdd");
    CHECK(tap.queue == "build");
    CHECK(tap.task == "zq.echo");
    CHECK(zq::packed_to_json(tap.body) == nlohmann::json{{"id", "wanted"}, {"task", "zq.echo"}, {"q", "build"}});
    CHECK_FALSE(events.next(50ms));
}

TEST_CASE("a job filter matches the job and its broadcast runs, not jobs whose id merely starts the same") {
    zq::EventFilter filter;
    filter.job = "J1";
    Event event;
    for (const auto& [id, expected] : std::map<std::string, bool>{
             {"J1", true}, {"J1@b", true}, {"J10", false}, {"J1@", false}, {"J", false}}) {
        event.id = id;
        INFO(id);
        CHECK(filter.matches(event) == expected);
    }
}

TEST_CASE("opening a subscription to a node that does not answer fails with a reason, without throwing") {
    TempDir nowhere;
    Subscription subscription;
    subscription.nodes = {"ipc://" + nowhere.path() + "/node.sock"};
    subscription.timeout = 300ms;
    auto events = Events::open(subscription);
    REQUIRE_FALSE(events);
    CHECK(events.error_code() == zq::ErrorCode::unreachable);
    CHECK_THAT(events.error(), Catch::Contains(nowhere.path()) && Catch::Contains("is it running?"));

    subscription.nodes.clear();
    subscription.publishers = {"ipc://" + nowhere.path() + "/pub.sock"};
    events = Events::open(subscription);
    REQUIRE_FALSE(events);
    CHECK(events.error_code() == zq::ErrorCode::unreachable);
    CHECK_THAT(events.error(), Catch::Contains("no connection to the publisher"));

    subscription.publishers = {"not-an-endpoint"};
    events = Events::open(subscription);
    REQUIRE_FALSE(events);
    CHECK(events.error_code() == zq::ErrorCode::bad_input);
}
