// zq::Events, the subscription API: decoding, client-side filtering and gap detection against
// a PUB socket of the test's own, then against real nodes.
#include "support/node_process.hpp"
#include "support/publisher.hpp"

#include <zq/events.hpp>
#include <zq/json.hpp>

#include <catch2/catch.hpp>

#include <map>
#include <string>
#include <vector>

using namespace zq::test;
using zq::Event;
using zq::EventKind;
using zq::Events;
using zq::Subscription;
using zq::Task;

namespace {

using namespace std::chrono_literals;

// A subscriber to the fake publisher, once the publisher has its subscriptions.
Events subscribe(FakePublisher& publisher, zq::EventFilter filter = {}) {
    Subscription subscription;
    subscription.publishers = {publisher.endpoint()};
    subscription.filter = std::move(filter);
    auto events = Events::open(std::move(subscription));
    INFO((events ? "" : events.error()));
    REQUIRE(events);
    REQUIRE(publisher.await_subscriber("E/"));
    REQUIRE(publisher.await_subscriber("T/"));
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
    FakePublisher publisher;
    zq::EventFilter filter;
    filter.states = {"succeeded"};
    filter.tasks = {"zq.echo"};
    Events events = subscribe(publisher, filter);

    publisher.event({.seq = 1, .id = "echo-queued", .state = "queued"});
    publisher.event({.seq = 2, .id = "sleep-done", .state = "succeeded", .task = "zq.sleep"});
    publisher.event({.seq = 3, .id = "echo-done", .state = "succeeded", .queue = "build"});
    publisher.event({.seq = 4, .id = "echo-failed", .state = "failed", .error = "boom"});
    publisher.event({.seq = 5, .id = "last", .state = "succeeded"});

    auto received = drain(events, 2);
    REQUIRE(received.size() == 2);
    CHECK(received[0].id == "echo-done");
    CHECK(received[0].kind == EventKind::event);
    CHECK(received[0].command == "EVENT");
    CHECK(received[0].node == "pub");
    CHECK(received[0].incarnation == "inc-1");
    CHECK(received[0].seq == 3);
    CHECK(received[0].time_us == kFakeEpochUs + 3);
    CHECK(received[0].queue == "build");
    CHECK(received[1].id == "last");
    CHECK_FALSE(events.next(50ms));
    auto counters = events.counters();
    REQUIRE(counters.size() == 1);
    CHECK(counters[0].received == 5);
    CHECK(counters[0].missed == 0);
}

TEST_CASE("a jump in a stream's sequence numbers comes out as a gap before the message that shows it") {
    FakePublisher publisher;
    Events events = subscribe(publisher);

    publisher.event({.seq = 1, .id = "one"});
    publisher.event({.seq = 2, .id = "two"});
    publisher.event({.seq = 5, .id = "five"});
    // A publisher reached twice (or a late copy) is handed out once.
    publisher.event({.seq = 5, .id = "five"});
    publisher.event({.seq = 6, .id = "six"});

    auto received = drain(events, 5);
    REQUIRE(received.size() == 5);
    CHECK(received[0].id == "one");
    CHECK(received[1].id == "two");
    CHECK(received[2].kind == EventKind::gap);
    CHECK(received[2].node == "pub");
    CHECK(received[2].command == "EVENT");
    CHECK(received[2].gap_from == 3);
    CHECK(received[2].gap_to == 4);
    CHECK(received[3].id == "five");
    CHECK(received[4].id == "six");
    CHECK_FALSE(events.next(50ms));
    CHECK(events.counters().at(0).missed == 2);
}

TEST_CASE("a tap names the tapped command, keeps its body and takes the queue from the envelope") {
    FakePublisher publisher;
    zq::EventFilter filter;
    filter.commands = {"submit"};
    filter.queues = {"build"};
    Events events = subscribe(publisher, filter);

    publisher.event({.seq = 1, .id = "an-event", .queue = "build"});
    publisher.tap({.seq = 1, .id = "elsewhere"});
    publisher.tap({.seq = 2, .id = "accepted", .command = "ACCEPTED", .direction = "out", .queue = "build"});
    publisher.tap({.seq = 3, .id = "wanted", .queue = "build"});

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
