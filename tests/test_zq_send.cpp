// zq-send against real zq-node processes: cancel ID --data DIR, whether the node runs (the
// cancel goes to it) or is down (the cancel is written to its journal and honoured when it
// starts); the options that say when and how often a task runs and its keyword arguments,
// checked where they land (the node's status and journal); `wait ID`; the refusal of a job
// command given as a task name; and the refusal of bad values.
#include "journal.hpp"
#include "support/node_process.hpp"

#include <zq/client.hpp>
#include <zq/json.hpp>
#include <zq/time_text.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

using namespace zq::test;
using zq::Client;
using zq::JobState;
using zq::Task;

namespace {

CommandResult zq_send(std::vector<std::string> arguments) {
    arguments.insert(arguments.begin(), ZQ_BIN_DIR "/zq-send");
    return run_command(arguments);
}

std::int64_t unix_ms_now() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// Submits with zq-send (no --wait) and returns the new job's id.
std::string submitted_id(NodeProcess& node, std::vector<std::string> arguments) {
    arguments.insert(arguments.begin(), {"--node", node.endpoint()});
    auto run = zq_send(arguments);
    INFO(run.err);
    REQUIRE(run.exit_code == 0);
    REQUIRE(run.out.size() >= 36);
    return run.out.substr(0, 36);
}

// `zq-send status ID --json`, parsed.
nlohmann::json status_json(NodeProcess& node, const std::string& id) {
    auto run = zq_send({"status", id, "--node", node.endpoint(), "--json"});
    INFO(run.err);
    REQUIRE(run.exit_code == 0);
    return nlohmann::json::parse(run.out);
}

// A time of the status JSON (RFC 3339) as unix ms.
std::int64_t time_in(const nlohmann::json& status, const char* key) {
    REQUIRE(status[key].is_string());
    auto parsed = zq::parse_rfc3339(status[key].get<std::string>());
    REQUIRE(parsed);
    return *parsed;
}

// The job as the node journaled it, read once the node has stopped (a node killed with
// SIGKILL keeps every job it accepted: ACCEPTED follows the commit).
zq::node::JobRecord journaled(NodeProcess& node, const std::string& id) {
    node.kill_hard();
    auto journal = zq::node::Journal::open(node.data_dir(), zq::node::JournalSync::normal);
    REQUIRE(journal);
    auto found = (*journal)->find(id);
    REQUIRE(found);
    REQUIRE(*found);
    return **found;
}


// How many jobs the node has seen since it started, in any state.
std::int64_t jobs_seen(NodeProcess& node) {
    std::int64_t total = 0;
    for (const auto& [state, count] : node.status()["jobs"].items()) total += count.get<std::int64_t>();
    return total;
}

}  // namespace

TEST_CASE("zq-send cancel --data cancels a queued job while its node is down, and the restarted node does not run it") {
    TempDir scratch;
    const std::string marker = scratch.path() + "/ran";
    NodeProcess node({.config = "[tasks.touch]\ncommand = [\"/usr/bin/touch\"]\n", .min_workers = 1, .max_workers = 1});
    std::string blocker_id, canceled_id, kept_id;
    {
        Client client(node.endpoint());
        blocker_id = occupy_worker(node, client).id;
        // Queued behind the blocker, in this order: the one to cancel would run first.
        auto doomed = client.submit(Task("touch").with_args(marker));
        auto kept = client.submit(Task("zq.echo").with_args(std::string("still runs")));
        REQUIRE(doomed);
        REQUIRE(kept);
        canceled_id = doomed->id;
        kept_id = kept->id;
    }
    node.kill_hard();

    auto canceled = zq_send({"cancel", canceled_id, "--data", node.data_dir(), "--json"});
    INFO(canceled.err);
    CHECK(canceled.exit_code == 0);
    auto printed = nlohmann::json::parse(canceled.out);
    CHECK(printed["id"] == canceled_id);
    CHECK(printed["state"] == "queued");
    CHECK(printed["cancel_requested"] == true);
    auto human = zq_send({"cancel", canceled_id, "--data", node.data_dir()});
    CHECK(human.exit_code == 0);
    CHECK_THAT(human.err, Catch::Contains("recorded in its journal"));

    node.start();
    Client client(node.endpoint());
    auto kept = client.wait(kept_id, kDeadline);
    REQUIRE(kept);
    CHECK(kept->state == JobState::succeeded);
    auto job = client.status(canceled_id);
    REQUIRE(job);
    CHECK(job->state == JobState::canceled);
    CHECK(job->error == "canceled while the node was down");
    // The queue runs in order, so the canceled job would have run before the kept one.
    CHECK_FALSE(std::filesystem::exists(marker));
    auto blocker = client.status(blocker_id);
    REQUIRE(blocker);
    CHECK(blocker->state == JobState::error);
    CHECK(blocker->error == "node restarted while the job was running");
}

TEST_CASE("zq-send cancel --data asks the node when one runs on the directory") {
    NodeProcess node({.min_workers = 1, .max_workers = 1});
    Client client(node.endpoint());
    occupy_worker(node, client);
    auto queued = client.submit(Task("zq.noop"));
    REQUIRE(queued);

    auto canceled = zq_send({"cancel", queued->id, "--data", node.data_dir(), "--json"});
    INFO(canceled.err);
    CHECK(canceled.exit_code == 0);
    CHECK(nlohmann::json::parse(canceled.out)["state"] == "canceled");
    auto job = client.status(queued->id);
    REQUIRE(job);
    CHECK(job->state == JobState::canceled);
    CHECK(job->error == "canceled before it ran");
    // The node still runs on the directory: zq-send took its lock only to test it.
    CHECK(node.status()["pending"] == 1);
}

TEST_CASE("zq-send cancel --data refuses unknown and finished jobs while the node is down") {
    NodeProcess node({.min_workers = 1, .max_workers = 1});
    std::string finished_id;
    {
        Client client(node.endpoint());
        auto submitted = client.submit(Task("zq.noop"));
        REQUIRE(submitted);
        auto job = client.wait(submitted->id, kDeadline);
        REQUIRE(job);
        REQUIRE(job->state == JobState::succeeded);
        finished_id = job->id;
    }
    node.kill_hard();

    const std::string unknown = zq::new_job_id();
    auto missing = zq_send({"cancel", unknown, "--data", node.data_dir()});
    CHECK(missing.exit_code == 1);
    CHECK_THAT(missing.err, Catch::Contains("no job " + unknown));

    auto finished = zq_send({"cancel", finished_id, "--data", node.data_dir()});
    CHECK(finished.exit_code == 1);
    CHECK_THAT(finished.err, Catch::Contains("had already succeeded: not canceled"));

    TempDir empty;
    auto no_journal = zq_send({"cancel", unknown, "--data", empty.path()});
    CHECK(no_journal.exit_code == 1);
    CHECK_THAT(no_journal.err, Catch::Contains("holds no journal"));
    CHECK_FALSE(std::filesystem::exists(empty.path() + "/journal.db"));
    CHECK_FALSE(std::filesystem::exists(empty.path() + "/node.lock"));

    auto both = zq_send({"cancel", unknown, "--data", node.data_dir(), "--node", node.endpoint()});
    CHECK(both.exit_code == 2);

    // Nothing zq-send did keeps the node from starting again on its directory.
    node.start();
    Client client(node.endpoint());
    auto job = client.status(finished_id);
    REQUIRE(job);
    CHECK(job->state == JobState::succeeded);
}

TEST_CASE("zq-send --countdown and --expires in seconds reach the node as times from now") {
    NodeProcess node({.min_workers = 1, .max_workers = 1});
    const std::int64_t before = unix_ms_now();
    const std::string id = submitted_id(node, {"--countdown", "30", "--expires", "90", "zq.noop"});
    const std::int64_t after = unix_ms_now();

    auto status = status_json(node, id);
    // What zq-send guarantees: the times it sent, counted from the moment it ran (1 s slack).
    CHECK(time_in(status, "eta") >= before + 30'000 - 1000);
    CHECK(time_in(status, "eta") <= after + 30'000 + 1000);
    CHECK(time_in(status, "expires") >= before + 90'000 - 1000);
    CHECK(time_in(status, "expires") <= after + 90'000 + 1000);
    CHECK(status["attempts"] == 0);
    CHECK(status["next_attempt"].is_null());
    CHECK(status["state"] == "scheduled");

    auto human = zq_send({"status", id, "--node", node.endpoint()});
    INFO(human.err);
    REQUIRE(human.exit_code == 0);
    CHECK_THAT(human.out, Catch::Contains("\n  eta: " + status["eta"].get<std::string>() + " (") &&
                              Catch::Contains("\n  expires: " + status["expires"].get<std::string>() + " ("));
}

TEST_CASE("zq-send --eta and --expires as RFC 3339 times reach the node as those instants") {
    NodeProcess node({.min_workers = 1, .max_workers = 1});
    // An offset other than Z: the node keeps the instant, and status prints it in UTC.
    const std::string id =
        submitted_id(node, {"--eta", "2099-01-01T01:00:00+01:00", "--expires", "2099-01-02T00:00:00.250Z", "zq.noop"});

    auto status = status_json(node, id);
    CHECK(status["eta"] == "2099-01-01T00:00:00.000Z");
    CHECK(status["expires"] == "2099-01-02T00:00:00.250Z");

    auto human = zq_send({"status", id, "--node", node.endpoint()});
    REQUIRE(human.exit_code == 0);
    CHECK_THAT(human.out, Catch::StartsWith(id + " ") && Catch::Contains("\n  eta: 2099-01-01T00:00:00.000Z (in ") &&
                              Catch::Contains("\n  expires: 2099-01-02T00:00:00.250Z (in "));
    // A job with no times set shows none.
    const std::string plain = submitted_id(node, {"zq.noop"});
    auto plain_human = zq_send({"status", plain, "--node", node.endpoint()});
    REQUIRE(plain_human.exit_code == 0);
    CHECK_THAT(plain_human.out, !Catch::Contains("eta:") && !Catch::Contains("expires:"));
}

TEST_CASE("zq-send --retries runs a failing task once per attempt, and status counts the attempts") {
    NodeProcess node({.min_workers = 1, .max_workers = 1});
    auto run = zq_send(
        {"--node", node.endpoint(), "--wait", "--json", "--retries", "2", "--retry-delay", "0.05", "zq.fail", "boom"});
    INFO(run.err);
    CHECK(run.exit_code == 1);
    auto outcome = nlohmann::json::parse(run.out);
    CHECK(outcome["state"] == "failed");
    CHECK(outcome["error"] == "boom");

    const std::string id = outcome["id"];
    CHECK(status_json(node, id)["attempts"] == 3);
    auto human = zq_send({"status", id, "--node", node.endpoint()});
    REQUIRE(human.exit_code == 0);
    CHECK_THAT(human.out, Catch::Contains("\n  attempts: 3\n"));
}

TEST_CASE("zq-send's retry policy options and keyword arguments reach the node's journal") {
    NodeProcess node({.min_workers = 1, .max_workers = 1});
    const std::vector<std::vector<std::string>> options = {
        {"--retries", "4"},          {"--retry-delay", "1.5"},
        {"--retry-backoff", "0.5"},  {"--retry-backoff-max", "20"},
        {"--retry-jitter"},          {"--retry-on-worker-lost"},
        {"--soft-limit", "30"},      {"--hard-limit", "60"},
        {"--kwarg", "limit=10"},     {"--kwarg", "name=plain"},
        {"--kwarg", "quoted=\"3\""}, {"--kwarg", "tags=[\"a\",\"b\"]"},
        {"--kwarg", "empty="},       {"--kwarg", "expr=a=b"}};
    std::vector<std::string> command_line;
    for (const auto& option : options) command_line.insert(command_line.end(), option.begin(), option.end());
    command_line.push_back("zq.noop");
    const std::string id = submitted_id(node, command_line);

    const zq::node::JobRecord job = journaled(node, id);
    CHECK(job.max_retries == 4);
    CHECK(job.retry_delay == 1.5);
    CHECK(job.retry_backoff == 0.5);
    CHECK(job.retry_backoff_max == 20);
    CHECK(job.retry_jitter);
    CHECK(job.retry_on_worker_lost);
    CHECK(job.soft_time_limit == 30);
    CHECK(job.hard_time_limit == 60);
    // Values read as positional arguments are: JSON when they parse, else the text itself;
    // the key ends at the first '='.
    CHECK(zq::packed_to_json(job.kwargs) == nlohmann::json::parse(R"({"limit": 10, "name": "plain", "quoted": "3",
                                                                      "tags": ["a", "b"], "empty": "",
                                                                      "expr": "a=b"})"));
}

TEST_CASE("zq-send --kwarg reaches the task that runs the job") {
    NodeProcess node({.min_workers = 1, .max_workers = 1});
    // zq.sleep takes positional arguments only: its refusal shows the keyword arguments got to
    // the worker, and zq.echo, which reads none, still runs.
    auto refused = zq_send({"--node", node.endpoint(), "--wait", "--kwarg", "seconds=1", "zq.sleep", "0"});
    CHECK(refused.exit_code == 1);
    CHECK_THAT(refused.out, Catch::Contains("bad arguments for zq.sleep: the task takes no keyword arguments"));
    auto echoed = zq_send({"--node", node.endpoint(), "--wait", "--json", "--kwarg", "x=1", "zq.echo", "7"});
    CHECK(echoed.exit_code == 0);
    CHECK(nlohmann::json::parse(echoed.out)["result"] == nlohmann::json::parse("[7]"));
}

TEST_CASE("zq-send wait ID waits for an existing job and prints what --wait prints") {
    NodeProcess node({.min_workers = 1, .max_workers = 2});
    const std::string endpoint = node.endpoint();

    SECTION("a job that succeeds, with --json and without") {
        const std::string id = zq::new_job_id();
        auto submitted = zq_send({"--node", endpoint, "--wait", "--json", "--id", id, "zq.echo", "1", "\"two\""});
        REQUIRE(submitted.exit_code == 0);
        auto waited = zq_send({"wait", id, "--node", endpoint, "--json"});
        INFO(waited.err);
        CHECK(waited.exit_code == 0);
        CHECK(nlohmann::json::parse(waited.out) == nlohmann::json::parse(submitted.out));
        auto human = zq_send({"wait", id, "--node", endpoint});
        CHECK(human.exit_code == 0);
        CHECK(human.out == id + " succeeded on test: [1,\"two\"]\n");
    }
    SECTION("a job still running: wait returns when it ends") {
        const std::string id = submitted_id(node, {"zq.sleep", "0.5"});
        auto waited = zq_send({"wait", id, "--node", endpoint, "--json"});
        INFO(waited.err);
        CHECK(waited.exit_code == 0);
        auto outcome = nlohmann::json::parse(waited.out);
        CHECK(outcome["state"] == "succeeded");
        CHECK(outcome["id"] == id);
        CHECK(outcome["duplicate"] == false);
    }
    SECTION("a job that fails exits 1, as with --wait") {
        const std::string id = submitted_id(node, {"zq.fail", "nope"});
        auto waited = zq_send({"wait", id, "--node", endpoint});
        CHECK(waited.exit_code == 1);
        CHECK(waited.out == id + " failed on test: nope\n");
    }
    SECTION("a job that does not end in time exits 3 and keeps running") {
        const std::string id = submitted_id(node, {"zq.sleep", "30"});
        auto waited = zq_send({"wait", id, "--node", endpoint, "--timeout", "0.3"});
        CHECK(waited.exit_code == 3);
        CHECK_FALSE(waited.err.empty());
        CHECK(status_json(node, id)["state"] != "canceled");
    }
    SECTION("an unknown job exits 1 and says so") {
        const std::string unknown = zq::new_job_id();
        auto waited = zq_send({"wait", unknown, "--node", endpoint});
        CHECK(waited.exit_code == 1);
        CHECK_THAT(waited.err, Catch::Contains("no job " + unknown));
        auto json = zq_send({"wait", unknown, "--node", endpoint, "--json"});
        CHECK(json.exit_code == 1);
        CHECK(nlohmann::json::parse(json.out)["code"] == "not_found");
    }
    SECTION("a broadcast: one line per node, then the broadcast's own") {
        const std::string id = zq::new_job_id();
        auto submitted =
            zq_send({"--node", endpoint, "--broadcast", "--wait", "--json", "--id", id, "zq.echo", "flush"});
        REQUIRE(submitted.exit_code == 0);
        auto waited = zq_send({"wait", id, "--node", endpoint, "--json"});
        CHECK(waited.exit_code == 0);
        CHECK(nlohmann::json::parse(waited.out) == nlohmann::json::parse(submitted.out));
        auto human = zq_send({"wait", id, "--node", endpoint});
        CHECK(human.out == id + "@test succeeded on test: [\"flush\"]\n" + id + " succeeded on all 1 nodes\n");
        // The node's own run is a job too, named ID@NODE.
        auto run = zq_send({"wait", id + "@test", "--node", endpoint});
        CHECK(run.exit_code == 0);
        CHECK(run.out == id + "@test succeeded on test: [\"flush\"]\n");
    }
}

TEST_CASE("zq-send refuses a job command given as a task name with a submit-only option") {
    NodeProcess node({.min_workers = 1, .max_workers = 1});
    const std::string id = zq::new_job_id();

    auto refused = zq_send({"--node", node.endpoint(), "--wait", "result", id});
    CHECK(refused.exit_code == 2);
    CHECK(refused.out.empty());
    CHECK_THAT(refused.err, Catch::Contains("'result' is a job command") &&
                                Catch::Contains("to wait for job " + id + " use: zq-send wait " + id) &&
                                Catch::Contains("to submit a task named result use: zq-send -- result"));

    const std::vector<std::vector<std::string>> ambiguous = {
        {"--wait", "status", id},     {"--queue", "default", "status", id}, {"--priority", "3", "cancel", id},
        {"wait", id, "--wait"},       {"--kwarg", "a=1", "result", id},     {"--countdown", "5", "wait", id},
        {"--retries", "1", "cancel"},
    };
    for (const auto& arguments : ambiguous) {
        std::vector<std::string> command_line = {"--node", node.endpoint()};
        command_line.insert(command_line.end(), arguments.begin(), arguments.end());
        auto run = zq_send(command_line);
        INFO(run.err);
        CHECK(run.exit_code == 2);
        CHECK_THAT(run.err, Catch::Contains("is a job command") && Catch::Contains("zq-send -- "));
    }
    CHECK_THAT(zq_send({"--node", node.endpoint(), "--queue", "default", "cancel", id}).err,
               Catch::Contains("to cancel job " + id + " use: zq-send cancel " + id));
    // Nothing reached the node.
    CHECK(jobs_seen(node) == 0);

    // "--" before the name still submits a task of that name; zq-worker has none.
    auto escaped = zq_send({"--node", node.endpoint(), "--wait", "--json", "--", "result", id});
    CHECK(escaped.exit_code == 1);
    auto outcome = nlohmann::json::parse(escaped.out);
    CHECK(outcome["task"] == "result");
    CHECK(outcome["error"] == "unknown task result");
}

TEST_CASE("zq-send refuses bad times, retry policies and keyword arguments, saying what it expected") {
    // No node: every one of these is refused before zq-send sends anything.
    TempDir dir;
    const std::string nowhere = "ipc://" + dir.path() + "/no-node.sock";
    struct Case {
        std::vector<std::string> options;
        std::string says;
    };
    const std::vector<Case> cases = {
        {{"--countdown", "-5"}, "--countdown: -5 is out of range: expected a number of seconds from 0 to"},
        {{"--countdown", "nan"}, "--countdown: 'nan' is not a finite number"},
        {{"--countdown", "inf"}, "--countdown: 'inf' is not a finite number"},
        {{"--countdown", "1e400"}, "--countdown: '1e400' is not a finite number"},
        {{"--countdown", "soon"}, "--countdown: 'soon' is not a number"},
        {{"--countdown", "4000000000"}, "out of range: expected a number of seconds from 0 to 3155760000 (100 years)"},
        {{"--eta", "tomorrow"}, "--eta: time \"tomorrow\" is not RFC 3339 (e.g. 2026-11-29T22:40:00Z)"},
        {{"--eta", "2099-01-01T00:00:00"}, "it needs an offset: Z for UTC, or +HH:MM"},
        {{"--eta", "2099-02-30T00:00:00Z"}, "no such date"},
        {{"--eta", "1969-12-31T23:59:59Z"}, "--eta: '1969-12-31T23:59:59Z' is out of range"},
        {{"--eta", "2099-01-01T00:00:00Z", "--countdown", "5"}, "--eta and --countdown both say when the task may run"},
        {{"--expires", "30s"},
         "--expires: '30s' is neither a number of seconds from now (e.g. 3600) nor an RFC 3339 time"},
        {{"--expires", "0"}, "--expires: 0 is out of range: expected a number of seconds above 0"},
        {{"--expires", "-1"}, "--expires: -1 is out of range"},
        {{"--expires", "nan"}, "--expires: 'nan' is not a finite number"},
        {{"--expires", "2020-01-01T00:00:00Z"}, "--expires: 2020-01-01T00:00:00.000Z has already passed"},
        {{"--countdown", "60", "--expires", "30"}, "is not after the ETA"},
        {{"--eta", "2099-01-02T00:00:00Z", "--expires", "2099-01-01T00:00:00Z"},
         "the expiry 2099-01-01T00:00:00.000Z is not after the ETA 2099-01-02T00:00:00.000Z"},
        {{"--retries", "-1"}, "--retries: '-1' is not a whole number from 0 to 1000"},
        {{"--retries", "1.5"}, "--retries: '1.5' is not a whole number"},
        {{"--retries", "1001"}, "--retries: '1001' is not a whole number from 0 to 1000"},
        {{"--retry-delay", "nan"}, "--retry-delay: 'nan' is not a finite number"},
        {{"--retry-delay", "1e9"},
         "--retry-delay: 1e9 is out of range: expected a number of seconds from 0 to 31622400 (366 days)"},
        {{"--retry-backoff", "-1"}, "--retry-backoff: -1 is out of range"},
        {{"--retry-backoff-max", "inf"}, "--retry-backoff-max: 'inf' is not a finite number"},
        {{"--soft-limit", "nan"}, "--soft-limit: 'nan' is not a finite number"},
        {{"--hard-limit", "-2"}, "--hard-limit: -2 is out of range"},
        {{"--kwarg", "limit"}, "--kwarg: 'limit' has no '=': expected KEY=JSON"},
        {{"--kwarg", "=1"}, "--kwarg: '=1' has an empty key"},
        {{"--kwarg", "a=1", "--kwarg", "a=2"}, "--kwarg: the key 'a' is given twice"},
        {{"--timeout", "nan"}, "'nan' is not a finite number"},
    };
    for (const Case& each : cases) {
        std::vector<std::string> command_line = {"--node", nowhere, "--timeout", "0.2"};
        if (each.options.front() == "--timeout") command_line = {"--node", nowhere};
        command_line.insert(command_line.end(), each.options.begin(), each.options.end());
        command_line.push_back("zq.noop");
        auto run = zq_send(command_line);
        INFO(run.err);
        CHECK(run.exit_code == 2);
        CHECK(run.out.empty());
        CHECK_THAT(run.err, Catch::Contains(each.says));
    }
    auto wait_timeout = zq_send({"wait", zq::new_job_id(), "--node", nowhere, "--timeout", "inf"});
    CHECK(wait_timeout.exit_code == 2);
    CHECK_THAT(wait_timeout.err, Catch::Contains("'inf' is not a finite number"));
    auto missing_value = zq_send({"--node", nowhere, "zq.noop", "--kwarg"});
    CHECK(missing_value.exit_code == 2);
}

TEST_CASE("zq-send --help lists the time, retry and keyword options and the wait command") {
    auto run = zq_send({"--help"});
    CHECK(run.exit_code == 0);
    for (const char* option :
         {"--eta", "--countdown", "--expires", "--retries", "--retry-delay", "--retry-backoff", "--retry-backoff-max",
          "--retry-jitter", "--retry-on-worker-lost", "--kwarg", "zq-send wait ID"}) {
        CHECK_THAT(run.out, Catch::Contains(option));
    }
}

TEST_CASE("zq-send wait exits 3 with a clear message when no node answers") {
    TempDir dir;
    const std::string nowhere = "ipc://" + dir.path() + "/no-node.sock";
    const auto started = std::chrono::steady_clock::now();
    auto run = zq_send({"wait", zq::new_job_id(), "--node", nowhere, "--timeout", "0.5"});
    CHECK(run.exit_code == 3);
    CHECK_THAT(run.err, Catch::Contains("no answer from zq-node at " + nowhere));
    CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(3));
}
