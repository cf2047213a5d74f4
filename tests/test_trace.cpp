// zq-trace, the message tracing tool: its lines, filters, gaps, --record and --replay against a
// publisher the test controls, then one job's path across two real nodes.
#include "support/cluster.hpp"
#include "support/node_process.hpp"
#include "support/publisher.hpp"

#include <zq/client.hpp>
#include <zq/json.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>
#include <future>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

using namespace zq::test;
using zq::Client;
using zq::Task;

namespace {

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream stream(text);
    for (std::string line; std::getline(stream, line);) lines.push_back(line);
    return lines;
}

std::vector<std::string> words_of(const std::string& line) {
    std::vector<std::string> words;
    std::istringstream stream(line);
    for (std::string word; stream >> word;) words.push_back(word);
    return words;
}

std::vector<std::string> zq_trace(std::vector<std::string> arguments) {
    arguments.insert(arguments.begin(), ZQ_BIN_DIR "/zq-trace");
    return arguments;
}

// zq-trace following the fake publisher, started in the background; the future is its
// outcome. Returns once it has subscribed to `topics`, so that what the test publishes next
// reaches it.
std::future<CommandResult> trace_in_background(FakePublisher& publisher, std::vector<std::string> arguments,
                                               const std::vector<std::string>& topics = {"E/", "T/"}) {
    arguments.insert(arguments.begin(), {"--publisher", publisher.endpoint()});
    auto command = zq_trace(std::move(arguments));
    auto running = std::async(std::launch::async, [command] { return run_command(command); });
    for (const auto& topic : topics) REQUIRE(publisher.await_subscriber(topic));
    return running;
}

// Publishes a small, fixed story: a job submitted, queued, running and succeeded, another that
// fails, with the tap's view of the submissions, and the event stream jumping from 4 to 7.
void publish_story(FakePublisher& publisher) {
    publisher.tap({.seq = 1, .id = "job-ok"});
    publisher.event({.seq = 1, .id = "job-ok", .state = "queued"});
    publisher.event({.seq = 2, .id = "job-ok", .state = "running"});
    publisher.tap({.seq = 2, .id = "job-bad", .queue = "build"});
    publisher.event({.seq = 3, .id = "job-ok", .state = "succeeded"});
    publisher.event({.seq = 4, .id = "job-bad", .state = "queued", .task = "zq.fail", .queue = "build"});
    publisher.event({.seq = 7,
                     .id = "job-bad",
                     .state = "failed",
                     .task = "zq.fail",
                     .queue = "build",
                     .error = "it broke:\n\"badly\""});
}

}  // namespace

TEST_CASE("zq-trace prints one aligned line per message, and a gap where a stream's numbers jump") {
    FakePublisher publisher;
    auto trace = trace_in_background(publisher, {"--count", "8", "--timeout", "10"});
    publish_story(publisher);
    auto result = trace.get();
    INFO(result.out << result.err);
    REQUIRE(result.exit_code == 0);

    auto lines = lines_of(result.out);
    REQUIRE(lines.size() == 8);
    // TIME NODE DIR PEER COMMAND ID TASK STATE [err=...]
    CHECK(words_of(lines[0]) ==
          std::vector<std::string>{words_of(lines[0])[0], "pub", "in", "client:00aabbccdd", "SUBMIT", "job-ok", "zq.echo", "-"});
    CHECK(words_of(lines[1]) ==
          std::vector<std::string>{words_of(lines[1])[0], "pub", "--", "-", "EVENT", "job-ok", "zq.echo", "queued"});
    CHECK(words_of(lines[6])[4] == "GAP");
    CHECK_THAT(lines[6], Catch::EndsWith("EVENT  seq 5..6 lost (2 messages)"));
    CHECK_THAT(lines[7], Catch::EndsWith(R"(failed  err="it broke:\n\"badly\"")"));
    // Aligned: every column starts where it does on the first line.
    for (const auto& line : lines) {
        CHECK(line.find("pub") == lines[0].find("pub"));
        if (words_of(line)[4] != "GAP") CHECK(line.find("job-") == lines[0].find("job-"));
    }
    // The time is local wall time with microseconds.
    CHECK(words_of(lines[0])[0].size() == std::string("14:03:12.000001").size());
    CHECK_THAT(words_of(lines[0])[0], Catch::EndsWith(".000001"));
}

TEST_CASE("zq-trace filters by state, queue, task and command, and --json carries every field") {
    FakePublisher publisher;
    auto failures = trace_in_background(publisher, {"--state", "failed", "--json", "--count", "2", "--timeout", "10"});
    publish_story(publisher);
    auto result = failures.get();
    INFO(result.out << result.err);
    REQUIRE(result.exit_code == 0);
    auto lines = lines_of(result.out);
    REQUIRE(lines.size() == 2);
    // A gap passes every filter but the node's: the failures asked for may be in it.
    auto gap = nlohmann::json::parse(lines[0]);
    CHECK(gap["kind"] == "gap");
    CHECK(gap["cmd"] == "EVENT");
    CHECK(gap["from"] == 5);
    CHECK(gap["to"] == 6);
    CHECK_THAT(result.err, Catch::Contains("2 messages of pub's EVENT stream never arrived"));
    auto failed = nlohmann::json::parse(lines[1]);
    CHECK(failed["kind"] == "event");
    CHECK(failed["id"] == "job-bad");
    CHECK(failed["st"] == "failed");
    CHECK(failed["err"] == "it broke:\n\"badly\"");
    CHECK(failed["q"] == "build");
    CHECK(failed["task"] == "zq.fail");
    CHECK(failed["node"] == "pub");
    CHECK(failed["seq"] == 7);
    CHECK(failed["time_us"] == kFakeEpochUs + 7);
    CHECK(failed["dir"].is_null());
    CHECK(failed["cmd"] == "EVENT");
    CHECK(failed["time"].get<std::string>().size() >= std::string("2023-11-14T22:13:20.000007+0000").size());

    auto submits = trace_in_background(
        publisher, {"--command", "submit", "--queue", "build", "--json", "--count", "1", "--timeout", "10"});
    publish_story(publisher);
    result = submits.get();
    INFO(result.out << result.err);
    REQUIRE(result.exit_code == 0);
    lines = lines_of(result.out);
    REQUIRE(lines.size() == 1);
    auto submit = nlohmann::json::parse(lines[0]);
    CHECK(submit["kind"] == "tap");
    CHECK(submit["cmd"] == "SUBMIT");
    CHECK(submit["dir"] == "in");
    CHECK(submit["id"] == "job-bad");
    CHECK(submit["body"] == nlohmann::json{{"id", "job-bad"}, {"task", "zq.echo"}, {"q", "build"}});

    // Nothing matches: --count is not reached, and that is what the exit code says.
    auto none = trace_in_background(publisher, {"--tap-only", "--task", "zq.nothing", "--count", "1", "--timeout", "0.5"},
                                    {"T/"});
    publish_story(publisher);
    result = none.get();
    CHECK(result.exit_code == 3);
    CHECK(result.out.empty());
}

TEST_CASE("zq-trace --record then --replay prints the same lines, and a replay can be filtered differently") {
    FakePublisher publisher;
    TempDir scratch;
    const std::string recording = scratch.path() + "/trace.jsonl";
    auto live = trace_in_background(publisher, {"--tap-only", "--count", "2", "--timeout", "10", "--record", recording},
                                    {"T/"});
    publish_story(publisher);
    auto recorded = live.get();
    INFO(recorded.out << recorded.err);
    REQUIRE(recorded.exit_code == 0);
    REQUIRE(lines_of(recorded.out).size() == 2);

    auto replayed = run_command(zq_trace({"--tap-only", "--count", "2", "--replay", recording}));
    INFO(replayed.err);
    CHECK(replayed.exit_code == 0);
    CHECK(replayed.out == recorded.out);

    auto as_json = run_command(zq_trace({"--tap-only", "--json", "--replay", recording}));
    CHECK(as_json.exit_code == 0);
    REQUIRE(lines_of(as_json.out).size() == 2);
    CHECK(nlohmann::json::parse(lines_of(as_json.out)[1])["id"] == "job-bad");

    auto broken = scratch.path() + "/broken.jsonl";
    std::ofstream(broken) << "{\"kind\": \"event\", \"node\": \"a\"}\nnot json\n";
    auto refused = run_command(zq_trace({"--replay", broken}));
    CHECK(refused.exit_code == 2);
    CHECK_THAT(refused.err, Catch::Contains("broken.jsonl line 2 is not JSON"));
}

TEST_CASE("zq-trace names a node that does not answer and exits 2") {
    TempDir nowhere;
    auto result = run_command(zq_trace({"--node", "ipc://" + nowhere.path() + "/node.sock", "--timeout", "1"}));
    CHECK(result.exit_code == 2);
    CHECK_THAT(result.err, Catch::Contains(nowhere.path() + "/node.sock") && Catch::Contains("is it running?"));
}

namespace {

// A node of a two-node cluster on loopback tcp, serving only `queue`.
std::unique_ptr<NodeProcess> start_tcp_node(const std::string& name, int port, const std::string& queue,
                                            const std::string& peer = {}) {
    NodeOptions options{.name = name, .config = kFastHeartbeats, .min_workers = 1, .max_workers = 2};
    options.extra_args = {"--queues", queue, "--bind", loopback_endpoint(port)};
    if (!peer.empty()) options.extra_args.insert(options.extra_args.end(), {"--peer", peer});
    return std::make_unique<NodeProcess>(options);
}

struct Hop {
    std::string command;
    std::string direction;
    std::string node;
    std::string state;  // empty: any
};

std::string describe(const Hop& hop) {
    return hop.command + " " + hop.direction + " at " + hop.node + (hop.state.empty() ? "" : " (" + hop.state + ")");
}

// The index of the first tapped hop matching `wanted` after `from`, or hops.size().
std::size_t find_hop(const std::vector<nlohmann::json>& hops, const Hop& wanted, std::size_t from) {
    for (std::size_t i = from; i < hops.size(); ++i) {
        const auto& hop = hops[i];
        if (hop["kind"] == "tap" && hop["cmd"] == wanted.command && hop["dir"] == wanted.direction &&
            hop["node"] == wanted.node && (wanted.state.empty() || hop["st"] == wanted.state)) {
            return i;
        }
    }
    return hops.size();
}

// Runs zq-trace until it ends by itself, submitting `task` to the node once per poll until
// then: the trace cannot say when its subscription is in place, so the test keeps giving it
// something to see instead of sleeping.
CommandResult trace_while_submitting(const std::vector<std::string>& arguments, NodeProcess& node, const Task& task) {
    auto command = zq_trace(arguments);
    auto tracing = std::async(std::launch::async, [command] { return run_command(command); });
    Client client(node.endpoint());
    wait_until([&] {
        if (tracing.wait_for(std::chrono::milliseconds(0)) == std::future_status::ready) return true;
        (void)client.submit(task);
        return false;
    });
    return tracing.get();
}

}  // namespace

TEST_CASE("zq-trace --job on a forwarded job shows every hop in order with plausible times") {
    const int port_a = free_tcp_port();
    const int port_b = free_tcp_port();
    auto a = start_tcp_node("a", port_a, "a-only");
    auto b = start_tcp_node("b", port_b, "remote", loopback_endpoint(port_a));
    REQUIRE(wait_until([&] { return sees_capacity(*a, "b"); }));
    const std::string endpoint_a = loopback_endpoint(port_a);
    const std::string endpoint_b = loopback_endpoint(port_b);
    REQUIRE(turn_tap_on(endpoint_a));
    REQUIRE(turn_tap_on(endpoint_b));

    // Long enough that zq-send's watch is in place before the job ends, so that its STATE
    // goes to the client.
    const double task_seconds = 0.3;
    auto sent = run_command({ZQ_BIN_DIR "/zq-send", "--node", endpoint_a, "--queue", "remote", "--json", "--wait",
                             "zq.sleep", std::to_string(task_seconds)});
    INFO(sent.out << sent.err);
    REQUIRE(sent.exit_code == 0);
    const auto job = nlohmann::json::parse(sent.out);
    CHECK(job["node"] == "b");
    const std::string id = job["id"];

    TempDir scratch;
    const std::string recording = scratch.path() + "/job.jsonl";
    auto traced = run_command(
        zq_trace({"--job", id, "--node", endpoint_a, "--node", endpoint_b, "--json", "--record", recording}));
    INFO(traced.out << traced.err << a->log() << b->log());
    REQUIRE(traced.exit_code == 0);
    std::vector<nlohmann::json> hops;
    for (const auto& line : lines_of(traced.out)) hops.push_back(nlohmann::json::parse(line));
    REQUIRE(hops.size() > 1);
    const nlohmann::json total = hops.back();
    hops.pop_back();
    CHECK(total["kind"] == "total");
    CHECK(total["end_seen"] == true);
    CHECK(total["hops"] == hops.size());

    // Each node's own steps, in the order it took them.
    const std::vector<Hop> at_a = {
        {"SUBMIT", "in", "a"},
        {"ACCEPTED", "out", "a"},
        {"FORWARD", "out", "a"},
        {"TAKEN", "in", "a"},
        {"STATE", "in", "a", "running"},
        {"STATE", "in", "a", "succeeded"},
        {"STATE", "out", "a", "succeeded"},
    };
    const std::vector<Hop> at_b = {
        {"FORWARD", "in", "b"},
        {"TAKEN", "out", "b"},
        {"STATE", "out", "b", "running"},
        {"STATE", "out", "b", "succeeded"},
    };
    std::map<std::string, std::size_t> index_of;
    for (const auto& steps : {at_a, at_b}) {
        std::size_t at = 0;
        for (const auto& wanted : steps) {
            INFO("looking for " << describe(wanted));
            at = find_hop(hops, wanted, at);
            REQUIRE(at < hops.size());
            index_of[describe(wanted)] = at++;
        }
    }
    CHECK_THAT(hops[index_of["STATE out at a (succeeded)"]]["peer"].get<std::string>(), Catch::StartsWith("client:"));
    // Each message between the nodes was sent before it was received (a TAP's `t` is when the
    // message was sent or received). TAKEN and the first STATE leave b back to back, so a may
    // see them in either order relative to b's steps.
    for (const auto& [sent, received] : std::vector<std::pair<std::string, std::string>>{
             {"FORWARD out at a", "FORWARD in at b"},
             {"TAKEN out at b", "TAKEN in at a"},
             {"STATE out at b (running)", "STATE in at a (running)"},
             {"STATE out at b (succeeded)", "STATE in at a (succeeded)"},
         }) {
        INFO(sent << " before " << received
                  << " (if the sender's time is the later one: does the node stamp an out TAP after the send?)");
        CHECK(index_of[sent] < index_of[received]);
    }
    // Both nodes' events are in the path: queued, running and succeeded at each.
    for (const std::string node : {"a", "b"}) {
        for (const std::string state : {"queued", "running", "succeeded"}) {
            INFO("EVENT " << state << " at " << node);
            CHECK(std::any_of(hops.begin(), hops.end(), [&](const nlohmann::json& hop) {
                return hop["kind"] == "event" && hop["node"] == node && hop["st"] == state;
            }));
        }
    }
    // Times: in order, each delta the difference from the hop before, and a whole path that
    // took at least the task's run and far less than the trace's patience.
    std::int64_t sum_us = 0;
    for (std::size_t i = 1; i < hops.size(); ++i) {
        const auto earlier = hops[i - 1]["time_us"].get<std::uint64_t>();
        const auto later = hops[i]["time_us"].get<std::uint64_t>();
        CHECK(later >= earlier);
        CHECK(hops[i]["delta_us"].get<std::int64_t>() == static_cast<std::int64_t>(later - earlier));
        sum_us += hops[i]["delta_us"].get<std::int64_t>();
    }
    CHECK(total["total_us"] == sum_us);
    CHECK(sum_us >= static_cast<std::int64_t>(task_seconds * 1e6));
    CHECK(sum_us < 3'000'000);

    // The recording replays to the same path.
    auto replayed = run_command(zq_trace({"--job", id, "--json", "--replay", recording}));
    CHECK(replayed.exit_code == 0);
    CHECK(replayed.out == traced.out);

    // The same path as text: one line per hop and the total.
    auto text = run_command(zq_trace({"--job", id, "--node", endpoint_a, "--node", endpoint_b}));
    CHECK(text.exit_code == 0);
    auto lines = lines_of(text.out);
    REQUIRE(lines.size() == hops.size() + 1);
    CHECK_THAT(lines.front(), Catch::Contains("+0.000ms") && Catch::Contains("SUBMIT"));
    CHECK_THAT(lines.back(), Catch::StartsWith("total ") && Catch::EndsWith("; the job ended"));
}

TEST_CASE("zq-trace --job gives up after --timeout with exit 3 when the job has not ended") {
    // With the tap on, the node publishes (and keeps) the job's events although nobody
    // subscribed when it was submitted.
    NodeProcess node({.min_workers = 1, .max_workers = 1, .extra_args = {"--trace"}});
    Client client(node.endpoint());
    const std::string running = occupy_worker(node, client).id;
    auto traced = run_command(zq_trace({"--job", running, "--node", node.endpoint(), "--timeout", "0.5"}));
    INFO(traced.out << traced.err);
    CHECK(traced.exit_code == 3);
    CHECK_THAT(traced.out, Catch::Contains("running") && Catch::EndsWith("; its end was not seen\n"));

    auto unknown = run_command(zq_trace({"--job", "no-such-job", "--node", node.endpoint(), "--timeout", "0.2"}));
    CHECK(unknown.exit_code == 3);
    CHECK(unknown.out == "no trace of job no-such-job on these nodes\n");
}

TEST_CASE("zq-trace --record then --replay of a live trace prints the same lines") {
    NodeProcess node({.min_workers = 1, .max_workers = 2});
    REQUIRE(turn_tap_on(node.endpoint()));
    TempDir scratch;
    const std::string recording = scratch.path() + "/live.jsonl";
    for (const bool json : {false, true}) {
        std::vector<std::string> options = {"--count", "12", "--filter-node", "test"};
        if (json) options.push_back("--json");
        std::vector<std::string> live = options;
        live.insert(live.end(), {"--node", node.endpoint(), "--timeout", "15", "--record", recording});
        auto recorded = trace_while_submitting(live, node, Task("zq.echo").with_args(1));
        INFO(recorded.out << recorded.err);
        REQUIRE(recorded.exit_code == 0);
        REQUIRE(lines_of(recorded.out).size() == 12);

        std::vector<std::string> replay = options;
        replay.insert(replay.end(), {"--replay", recording});
        auto replayed = run_command(zq_trace(replay));
        INFO(replayed.err);
        CHECK(replayed.exit_code == 0);
        CHECK(replayed.out == recorded.out);
    }
}

TEST_CASE("zq-trace --state failed shows a node's failures only") {
    NodeProcess node({.min_workers = 1, .max_workers = 2});
    Client client(node.endpoint());
    auto ok = client.submit(Task("zq.echo").with_args(1));
    REQUIRE(ok);
    auto traced = trace_while_submitting({"--node", node.endpoint(), "--state", "failed", "--json", "--count", "2", "--timeout", "15"},
                                         node, Task("zq.fail").with_args("on purpose"));
    INFO(traced.out << traced.err);
    REQUIRE(traced.exit_code == 0);
    for (const auto& line : lines_of(traced.out)) {
        auto event = nlohmann::json::parse(line);
        CHECK(event["kind"] == "event");
        CHECK(event["st"] == "failed");
        CHECK(event["task"] == "zq.fail");
        CHECK(event["node"] == "test");
        CHECK_THAT(event["err"].get<std::string>(), Catch::Contains("on purpose"));
    }
}
