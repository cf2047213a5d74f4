// The client and zq-send when no node is there: a clear "unreachable" within the timeout,
// never a hang; and zq-send's usage errors. (Tests against a running node are elsewhere.)
#include <zq/client.hpp>

#include <nlohmann/json.hpp>

#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// A fresh directory under /tmp, removed when the test ends.
class TempDir {
public:
    TempDir() {
        std::string pattern = "/tmp/zq-offline-XXXXXX";
        if (mkdtemp(pattern.data()) == nullptr) FAIL("cannot make a temporary directory");
        path_ = pattern;
    }
    ~TempDir() { std::system(("rm -rf '" + path_ + "'").c_str()); }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::string& path() const { return path_; }
    // An ipc endpoint in this directory where nothing listens.
    std::string silent_endpoint() const { return "ipc://" + path_ + "/node.sock"; }

private:
    std::string path_;
};

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string quoted(const std::string& word) {
    std::string result = "'";
    for (char c : word) result += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return result + "'";
}

struct Run {
    int exit_code = -1;
    std::string out;
    std::string err;
    double seconds = 0;
};

// Runs a program from the build's bin directory (through the shell, for its redirections)
// and collects its exit code, stdout and stderr. `environment` is prepended as NAME=value words.
Run run_tool(const TempDir& dir, const std::string& program, const std::vector<std::string>& arguments,
             const std::string& environment = "") {
    const std::string out_path = dir.path() + "/stdout";
    const std::string err_path = dir.path() + "/stderr";
    std::string command = "env -u ZQ_NODE " + environment + " " + quoted(std::string(ZQ_BIN_DIR) + "/" + program);
    for (const auto& argument : arguments) command += " " + quoted(argument);
    command += " >" + quoted(out_path) + " 2>" + quoted(err_path) + " </dev/null";
    const auto started = Clock::now();
    const int status = std::system(command.c_str());
    Run run;
    run.seconds = std::chrono::duration<double>(Clock::now() - started).count();
    run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    run.out = read_file(out_path);
    run.err = read_file(err_path);
    return run;
}

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

TEST_CASE("a client pointed at an endpoint where no node listens reports it unreachable within the timeout") {
    TempDir dir;
    zq::Client client(dir.silent_endpoint());
    CHECK(client.endpoint() == dir.silent_endpoint());

    const auto started = Clock::now();
    auto submitted = client.submit(zq::Task("zq.noop"), 300ms);
    const double took = seconds_since(started);
    REQUIRE_FALSE(submitted);
    CHECK(submitted.error_code() == zq::ErrorCode::unreachable);
    CHECK_THAT(submitted.error(), Catch::Contains(dir.silent_endpoint()) && Catch::Contains("is it running"));
    CHECK(took >= 0.25);
    CHECK(took < 2.0);
}

TEST_CASE("every client call reports a missing node as unreachable") {
    TempDir dir;
    zq::Client client(dir.silent_endpoint());
    const std::string id = zq::new_job_id();

    auto status = client.status(id, 200ms);
    REQUIRE_FALSE(status);
    CHECK(status.error_code() == zq::ErrorCode::unreachable);

    auto result = client.result(id, 200ms);
    REQUIRE_FALSE(result);
    CHECK(result.error_code() == zq::ErrorCode::unreachable);

    auto waited = client.wait(id, 200ms);
    REQUIRE_FALSE(waited);
    CHECK(waited.error_code() == zq::ErrorCode::unreachable);

    auto canceled = client.cancel(id, 200ms);
    REQUIRE_FALSE(canceled);
    CHECK(canceled.error_code() == zq::ErrorCode::unreachable);

    auto control = client.control("status", 200ms);
    REQUIRE_FALSE(control);
    CHECK(control.error_code() == zq::ErrorCode::unreachable);
}

TEST_CASE("posting to a missing node does not block, and the next reply reports it unreachable") {
    TempDir dir;
    zq::Client client(dir.silent_endpoint());
    const auto started = Clock::now();
    for (int i = 0; i < 100; ++i) REQUIRE(client.post(zq::Task("zq.noop"), true));
    CHECK(seconds_since(started) < 1.0);
    auto reply = client.next_reply(200ms);
    REQUIRE_FALSE(reply);
    CHECK(reply.error_code() == zq::ErrorCode::unreachable);
}

TEST_CASE("a malformed endpoint is an error value, not an exception") {
    zq::Client client("no-such-transport");
    auto submitted = client.submit(zq::Task("zq.noop"), 100ms);
    REQUIRE_FALSE(submitted);
    CHECK(submitted.error_code() == zq::ErrorCode::bad_input);
    CHECK_THAT(submitted.error(), Catch::Contains("no-such-transport"));
}

TEST_CASE("a moved-from client answers with an error instead of crashing") {
    TempDir dir;
    zq::Client first(dir.silent_endpoint());
    zq::Client second(std::move(first));
    CHECK(second.endpoint() == dir.silent_endpoint());
    auto status = first.status("x", 10ms);  // NOLINT(bugprone-use-after-move): that is the point
    REQUIRE_FALSE(status);
    CHECK(status.error_code() == zq::ErrorCode::bad_input);
}

TEST_CASE("zq-send exits 3 with a clear message when no node answers") {
    TempDir dir;
    const std::string endpoint = dir.silent_endpoint();

    SECTION("a submission") {
        auto run = run_tool(dir, "zq-send", {"--node", endpoint, "--timeout", "0.5", "zq.noop", "1", "two"});
        CHECK(run.exit_code == 3);
        CHECK(run.out.empty());
        CHECK_THAT(run.err, Catch::Contains("no answer from zq-node at " + endpoint) &&
                                Catch::Contains("is it running? (set ZQ_NODE or --node)"));
        CHECK(run.seconds < 3.0);
    }
    SECTION("the endpoint taken from ZQ_NODE") {
        auto run = run_tool(dir, "zq-send", {"--timeout", "0.5", "zq.noop"}, "ZQ_NODE=" + quoted(endpoint));
        CHECK(run.exit_code == 3);
        CHECK_THAT(run.err, Catch::Contains(endpoint));
    }
    SECTION("a submission with --wait") {
        auto run = run_tool(dir, "zq-send", {"--node", endpoint, "--wait", "--timeout", "0.5", "zq.noop"});
        CHECK(run.exit_code == 3);
        CHECK(run.seconds < 3.0);
    }
    SECTION("a job command") {
        for (const char* command : {"status", "result", "cancel"}) {
            const std::string id = "0190d1e2-0000-7000-8000-000000000001";
            auto run = run_tool(dir, "zq-send", {command, id, "--node", endpoint, "--timeout", "0.3"});
            CHECK(run.exit_code == 3);
            CHECK_THAT(run.err, Catch::Contains("no answer from zq-node"));
        }
    }
    SECTION("with --json, stdout holds one JSON object naming the error") {
        auto run = run_tool(dir, "zq-send", {"--node", endpoint, "--timeout", "0.3", "--json", "zq.noop"});
        CHECK(run.exit_code == 3);
        auto object = nlohmann::json::parse(run.out, nullptr, false);
        REQUIRE(object.is_object());
        CHECK(object["code"] == "unreachable");
        CHECK(object["state"].is_null());
        CHECK(object["id"].is_string());
        CHECK_THAT(object["error"].get<std::string>(), Catch::Contains(endpoint));
    }
}

TEST_CASE("zq-send reads status, result or cancel followed by one job id as a job command") {
    TempDir dir;
    const std::string endpoint = dir.silent_endpoint();
    // The id in the JSON error tells the two forms apart: a job command names the job it was
    // asked about, a submission names the new job it made.
    auto id_in_answer = [&](const std::vector<std::string>& arguments) {
        std::vector<std::string> command_line = {"--json", "--timeout", "0.2", "--node", endpoint};
        command_line.insert(command_line.end(), arguments.begin(), arguments.end());
        auto run = run_tool(dir, "zq-send", command_line);
        CHECK(run.exit_code == 3);
        auto object = nlohmann::json::parse(run.out, nullptr, false);
        return object.is_object() && object["id"].is_string() ? object["id"].get<std::string>() : std::string();
    };
    CHECK(id_in_answer({"status", "job-1"}) == "job-1");
    const std::string uuid = "0190d1e2-0000-7000-8000-000000000001";
    CHECK(id_in_answer({"cancel", uuid}) == uuid);
    // A task called "status": after --, with two arguments, with an argument that is no id, or
    // after -- with an option only a submission takes (without the --, that is refused as
    // ambiguous: see test_zq_send.cpp).
    CHECK(id_in_answer({"--", "status", "job-1"}) != "job-1");
    CHECK(id_in_answer({"status", "job-1", "job-2"}) != "job-1");
    CHECK(id_in_answer({"status", "{\"x\": 1}"}) != "");
    CHECK(id_in_answer({"--queue", "default", "--", "status", "job-1"}) != "job-1");
}

TEST_CASE("zq-send exits 2 on bad usage") {
    TempDir dir;
    const std::vector<std::vector<std::string>> bad_command_lines = {
        {},                                      // no task
        {"--no-such-option", "zq.noop"},         // unknown option
        {"--timeout", "-1", "zq.noop"},          // a timeout must be positive
        {"--timeout", "soon", "zq.noop"},        // and a number
        {"--priority", "high", "zq.noop"},       // priorities are integers
        {"status", "ID1", "--no-such-option"},   // job commands take few options
    };
    for (std::size_t i = 0; i < bad_command_lines.size(); ++i) {
        auto run = run_tool(dir, "zq-send", bad_command_lines[i]);
        INFO("command line #" << i << ": " << run.err);
        CHECK(run.exit_code == 2);
        CHECK_FALSE(run.err.empty());
    }
    SECTION("--help succeeds and documents the job commands and exit codes") {
        auto run = run_tool(dir, "zq-send", {"--help"});
        CHECK(run.exit_code == 0);
        CHECK_THAT(run.out, Catch::Contains("status ID") && Catch::Contains("Exit codes"));
    }
    SECTION("a job command with a malformed endpoint") {
        auto run = run_tool(dir, "zq-send", {"status", "ID1", "--node", "nonsense"});
        CHECK(run.exit_code == 2);
        CHECK_THAT(run.err, Catch::Contains("nonsense"));
    }
}
