// zq-trace, the message tracing tool: its lines, filters, gaps, --record and --replay against a
// publisher the test controls, then one job's path across two real nodes.
#include "support/node_process.hpp"
#include "support/publisher.hpp"

#include <zq/client.hpp>
#include <zq/json.hpp>

#include <catch2/catch.hpp>

#include <fstream>
#include <future>
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

TEST_CASE("--record then --replay prints the same lines, and a replay can be filtered differently") {
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
