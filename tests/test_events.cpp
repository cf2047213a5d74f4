// zq::Events, the subscription API: decoding, client-side filtering and gap detection against
// a PUB socket of the test's own, then against real nodes.
#include "support/node_process.hpp"
#include "support/publisher.hpp"

#include <zq/events.hpp>
#include <zq/json.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

using namespace zq::test;
using zq::Client;
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

TEST_CASE("run hands each event to a callback until the callback says stop") {
    FakePublisher publisher;
    Events events = subscribe(publisher);
    for (std::uint64_t seq = 1; seq <= 5; ++seq) publisher.event({.seq = seq, .id = "job-" + std::to_string(seq)});

    std::vector<std::string> seen;
    auto handed_out = events.run(
        [&](const Event& event) {
            seen.push_back(event.id);
            return event.id != "job-3";
        },
        kDeadline);
    REQUIRE(handed_out);
    CHECK(*handed_out == 3);
    CHECK(seen == std::vector<std::string>{"job-1", "job-2", "job-3"});

    // A stop predicate ends it too, also while nothing arrives.
    auto stopped = events.run([](const Event&) { return true; }, kDeadline, [&] { return seen.size() >= 3; });
    REQUIRE(stopped);
    CHECK(*stopped == 0);
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

TEST_CASE("a node's events arrive numbered from 1 without gaps, and a filter lets only its matches through") {
    NodeProcess node({.min_workers = 1, .max_workers = 2});
    Subscription everything;
    everything.nodes = {node.endpoint()};
    everything.filter.tap = false;
    auto all = Events::open(everything);
    REQUIRE(all);
    Subscription echoes_done = everything;
    echoes_done.filter.states = {"succeeded"};
    echoes_done.filter.tasks = {"zq.echo"};
    auto matching = Events::open(echoes_done);
    REQUIRE(matching);

    Client client(node.endpoint());
    std::vector<std::string> echoes, others;
    for (int i = 0; i < 3; ++i) {
        auto echo = client.submit(Task("zq.echo").with_args(i));
        auto noop = client.submit(Task("zq.noop"));
        REQUIRE(echo);
        REQUIRE(noop);
        echoes.push_back(echo->id);
        others.push_back(noop->id);
    }
    auto failing = client.submit(Task("zq.fail").with_args("on purpose"));
    REQUIRE(failing);
    others.push_back(failing->id);
    std::vector<std::string> ids = echoes;
    ids.insert(ids.end(), others.begin(), others.end());
    for (const auto& id : ids) REQUIRE(client.wait(id, kDeadline));

    // Every job is created queued, then runs and ends: three events each, numbered 1, 2, 3...
    // from this node's start, since nothing was published before the subscription.
    std::map<std::string, std::vector<std::string>> states_of;
    std::uint64_t expected_seq = 1;
    while (expected_seq <= 3 * ids.size()) {
        auto event = all->next(kDeadline);
        REQUIRE(event);
        REQUIRE(event->kind == EventKind::event);
        CHECK(event->seq == expected_seq++);
        CHECK(event->node == "test");
        states_of[event->id].push_back(event->state);
    }
    for (const auto& id : echoes) CHECK(states_of[id] == std::vector<std::string>{"queued", "running", "succeeded"});
    CHECK(states_of[failing->id] == std::vector<std::string>{"queued", "running", "failed"});
    CHECK(all->counters().at(0).missed == 0);

    std::vector<std::string> matched;
    while (matched.size() < echoes.size()) {
        auto event = matching->next(kDeadline);
        REQUIRE(event);
        CHECK(event->state == "succeeded");
        CHECK(event->task == "zq.echo");
        matched.push_back(event->id);
    }
    CHECK_THAT(matched, Catch::UnorderedEquals(echoes));
    CHECK_FALSE(matching->next(100ms));
    // The rest were received and dropped: the subscriber counted all of them.
    CHECK(matching->counters().at(0).received == 3 * ids.size());
}

TEST_CASE("a node's history of a job lists its events and taps, oldest first") {
    NodeProcess node({.min_workers = 1, .max_workers = 2, .extra_args = {"--trace"}});
    Client client(node.endpoint());
    auto echo = client.submit(Task("zq.echo").with_args(1));
    REQUIRE(echo);
    REQUIRE(client.wait(echo->id, kDeadline));

    auto history = zq::fetch_history(client, echo->id);
    INFO((history ? "" : history.error()));
    REQUIRE(history);
    std::vector<std::string> steps;
    for (const Event& event : *history) {
        CHECK(event.id == echo->id);
        steps.push_back(event.kind == EventKind::tap ? event.command + " " + event.direction : event.state);
    }
    // The client's SUBMIT and the node's answers, then the job's transitions (the history
    // request itself may come last).
    REQUIRE(steps.size() >= 5);
    CHECK(steps[0] == "SUBMIT in");
    CHECK(std::find(steps.begin(), steps.end(), "ACCEPTED out") != steps.end());
    CHECK(std::find(steps.begin(), steps.end(), "succeeded") != steps.end());
    for (std::size_t i = 1; i < history->size(); ++i) CHECK((*history)[i - 1].time_us <= (*history)[i].time_us);

    auto endpoint = zq::publisher_endpoint(client);
    REQUIRE(endpoint);
    CHECK(*endpoint == "ipc://" + node.data_dir() + "/pub.sock");
}

TEST_CASE("a retrying job's events carry its attempts and next attempt, and zq-trace shows them") {
    NodeProcess node({.min_workers = 1, .max_workers = 1, .extra_args = {"--trace"}});
    Subscription subscription;
    subscription.nodes = {node.endpoint()};
    subscription.filter.tap = false;
    subscription.filter.states = {"retrying"};
    auto events = Events::open(subscription);
    REQUIRE(events);

    Client client(node.endpoint());
    Task task("zq.fail");
    task.max_retries = 1;
    task.retry_delay = 0.2;
    auto submitted = client.submit(task);
    REQUIRE(submitted);
    auto retrying = events->next(kDeadline);
    REQUIRE(retrying);
    CHECK(retrying->id == submitted->id);
    CHECK(retrying->attempts == 1);
    CHECK(retrying->next_attempt_ms > 0);
    REQUIRE(client.wait(submitted->id, kDeadline));

    auto traced = run_command({ZQ_BIN_DIR "/zq-trace", "--job", submitted->id, "--node", node.endpoint(),
                               "--timeout", "5"});
    INFO(traced.out << traced.err);
    CHECK_THAT(traced.out, Catch::Contains("retrying") && Catch::Contains("attempts=1") && Catch::Contains("next="));
}
