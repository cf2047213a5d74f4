// The worker side: the link's framing, and the real zq-worker and zq-example-worker binaries
// driven over the link the way zq-node drives them.
#include "support/worker_process.hpp"

#include <zq/codec.hpp>
#include <zq/worker_link.hpp>

#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using zq::test::exec_request;
using zq::test::RunRequest;
using zq::test::task_request;
using zq::test::TaskOutcome;
using zq::test::WorkerProcess;
using Json = nlohmann::json;

namespace {

// Generous, for loaded machines and sanitizer builds; a passing wait takes milliseconds.
constexpr auto kDeadline = 10s;
const std::string kStockWorker = ZQ_BIN_DIR "/zq-worker";
const std::string kExampleWorker = ZQ_BIN_DIR "/zq-example-worker";

std::string frame_with(std::string_view key, std::string_view value) {
    zq::BodyWriter body;
    body.add(key, value);
    return zq::worker_link::frame(body);
}

// Everything the reader hands out after `bytes` were fed, copied out of its buffer.
std::vector<std::string> drain(zq::worker_link::FrameReader& reader) {
    std::vector<std::string> frames;
    for (;;) {
        auto next = reader.next();
        REQUIRE(next.ok());
        if (next->empty()) return frames;
        frames.emplace_back(*next);
    }
}

// A worker that has announced itself and is ready for tasks.
struct ReadyWorker {
    explicit ReadyWorker(const std::string& program) : process(program) { REQUIRE(process.await_ready(kDeadline)); }
    WorkerProcess process;
};

TaskOutcome run(WorkerProcess& worker, const RunRequest& request) {
    auto done = worker.run(request, kDeadline);
    REQUIRE(done);
    CHECK(done->id == request.id);
    return *done;
}

// Repeats SIGUSR1 until the task ends: the worker clears a stop request when it takes a task,
// so a signal that lands before the worker read the RUN frame would be forgotten.
std::optional<TaskOutcome> cancel(WorkerProcess& worker, std::chrono::milliseconds within) {
    const auto deadline = std::chrono::steady_clock::now() + within;
    while (std::chrono::steady_clock::now() < deadline) {
        worker.signal(SIGUSR1);
        if (auto done = worker.await_done(50ms)) return done;
    }
    return std::nullopt;
}

bool exists(const std::string& path) {
    struct stat info;
    return ::stat(path.c_str(), &info) == 0;
}

}  // namespace

// --- framing --------------------------------------------------------------------------------

TEST_CASE("frame puts the body's length in front, big-endian", "[worker_link]") {
    const std::string framed = frame_with("k", "v");
    REQUIRE(framed.size() > 4);
    const auto byte = [&](std::size_t i) { return std::size_t(std::uint8_t(framed[i])); };
    const std::size_t length = (byte(0) << 24) | (byte(1) << 16) | (byte(2) << 8) | byte(3);
    CHECK(length == framed.size() - 4);
}

TEST_CASE("frames fed byte by byte come out whole and in order", "[worker_link]") {
    const std::string first = frame_with("op", "first");
    const std::string second = frame_with("op", std::string(1000, 'x'));
    const std::string stream = first + second;

    zq::worker_link::FrameReader reader;
    std::vector<std::string> frames;
    for (char byte : stream) {
        reader.feed(&byte, 1);
        for (auto& frame : drain(reader)) frames.push_back(std::move(frame));
    }
    REQUIRE(frames.size() == 2);
    CHECK(frames[0] == first.substr(4));
    CHECK(frames[1] == second.substr(4));
}

TEST_CASE("several frames in one read are all handed out", "[worker_link]") {
    const std::string a = frame_with("op", "a");
    const std::string b = frame_with("op", "b");
    const std::string c = frame_with("op", "c");
    const std::string stream = a + b + c;

    zq::worker_link::FrameReader reader;
    // Two whole frames and half of the third, then the rest.
    const std::size_t split = a.size() + b.size() + c.size() / 2;
    reader.feed(stream.data(), split);
    CHECK(drain(reader) == std::vector<std::string>{a.substr(4), b.substr(4)});
    reader.feed(stream.data() + split, stream.size() - split);
    CHECK(drain(reader) == std::vector<std::string>{c.substr(4)});
}

TEST_CASE("a frame longer than the limit is refused as soon as its length is read", "[worker_link]") {
    const std::uint32_t too_long = zq::worker_link::kMaxFrameBytes + 1;
    const char header[4] = {char(too_long >> 24), char(too_long >> 16), char(too_long >> 8), char(too_long)};
    zq::worker_link::FrameReader reader;
    reader.feed(header, sizeof header);
    auto next = reader.next();
    REQUIRE_FALSE(next.ok());
    CHECK_THAT(next.error(), Catch::Contains("exceeds the limit"));
}

TEST_CASE("a frame of exactly the limit is waited for, not refused", "[worker_link]") {
    const std::uint32_t limit = zq::worker_link::kMaxFrameBytes;
    const char header[4] = {char(limit >> 24), char(limit >> 16), char(limit >> 8), char(limit)};
    zq::worker_link::FrameReader reader;
    reader.feed(header, sizeof header);
    auto next = reader.next();
    REQUIRE(next.ok());
    CHECK(next->empty());
}

TEST_CASE("an empty frame is refused", "[worker_link]") {
    const char header[4] = {0, 0, 0, 0};
    zq::worker_link::FrameReader reader;
    reader.feed(header, sizeof header);
    CHECK_FALSE(reader.next().ok());
}

// --- the worker process ---------------------------------------------------------------------

TEST_CASE("a worker announces itself with READY and its pid", "[worker]") {
    WorkerProcess worker(kStockWorker);
    auto pid = worker.await_ready(kDeadline);
    REQUIRE(pid);
    CHECK(*pid == worker.pid());
}

TEST_CASE("zq.echo returns its arguments as given", "[worker]") {
    ReadyWorker worker(kStockWorker);
    const Json args = {1, -2, 2.5, "three", nullptr, true, {1, "x"}, {{"k", "v"}}};
    auto done = run(worker.process, task_request("j1", "zq.echo", args));
    INFO(done.error);
    CHECK(done.ok);
    CHECK(done.result == args);
}

TEST_CASE("zq.noop returns nil", "[worker]") {
    ReadyWorker worker(kStockWorker);
    auto done = run(worker.process, task_request("j1", "zq.noop", {"ignored"}));
    CHECK(done.ok);
    CHECK(done.result.is_null());
}

TEST_CASE("zq.fail fails with the given message, or a default one", "[worker]") {
    ReadyWorker worker(kStockWorker);
    auto given = run(worker.process, task_request("j1", "zq.fail", {"disk on fire"}));
    CHECK_FALSE(given.ok);
    CHECK(given.error == "disk on fire");
    auto by_default = run(worker.process, task_request("j2", "zq.fail"));
    CHECK_FALSE(by_default.ok);
    CHECK(by_default.error == "failed on purpose");
}

TEST_CASE("an unknown task fails and the worker goes on serving", "[worker]") {
    ReadyWorker worker(kStockWorker);
    auto unknown = run(worker.process, task_request("j1", "no.such.task"));
    CHECK_FALSE(unknown.ok);
    CHECK(unknown.error == "unknown task no.such.task");
    auto next = run(worker.process, task_request("j2", "zq.echo", {7}));
    CHECK(next.ok);
    CHECK(next.result == Json{7});
}

TEST_CASE("typed C++ tasks read their arguments and return their results", "[worker]") {
    ReadyWorker worker(kExampleWorker);
    auto sum = run(worker.process, task_request("j1", "example.add", {2, 40}));
    INFO(sum.error);
    CHECK(sum.ok);
    CHECK(sum.result == 42);
    auto counts = run(worker.process, task_request("j2", "example.word_count", {"to be or not to be"}));
    INFO(counts.error);
    CHECK(counts.ok);
    CHECK(counts.result == Json{{"be", 2}, {"not", 1}, {"or", 1}, {"to", 2}});
}

TEST_CASE("a typed task given wrong arguments fails saying which one and why", "[worker]") {
    ReadyWorker worker(kExampleWorker);
    auto wrong_type = run(worker.process, task_request("j1", "example.add", {2, "forty"}));
    CHECK_FALSE(wrong_type.ok);
    CHECK(wrong_type.error == "bad arguments for example.add: argument 2 must be an integer, got a string");
    auto too_few = run(worker.process, task_request("j2", "example.add", {2}));
    CHECK_FALSE(too_few.ok);
    CHECK(too_few.error == "bad arguments for example.add: expected 2 argument(s), got 1");
    auto failure = run(worker.process, task_request("j3", "example.add", {INT64_MAX, 1}));
    CHECK_FALSE(failure.ok);
    CHECK_THAT(failure.error, Catch::Contains("does not fit in 64 bits"));
    auto still_serving = run(worker.process, task_request("j4", "example.add", {1, 1}));
    CHECK(still_serving.result == 2);
}

TEST_CASE("a malformed RUN frame is answered when its id is readable, and skipped otherwise", "[worker]") {
    ReadyWorker worker(kStockWorker);
    zq::BodyWriter bad_args;
    bad_args.add("op", "run").add("id", "j1").add("task", "zq.echo").add("args", "not an array");
    worker.process.send_bytes(zq::worker_link::frame(bad_args));
    auto answered = worker.process.await_done(kDeadline);
    REQUIRE(answered);
    CHECK(answered->id == "j1");
    CHECK_FALSE(answered->ok);
    CHECK(answered->error == "malformed run frame: field 'args' must be an array");

    // Not msgpack at all, then a map without an id: neither can be answered.
    worker.process.send_bytes(std::string("\0\0\0\1\xc1", 5));
    zq::BodyWriter no_id;
    no_id.add("op", "run").add("task", "zq.noop");
    worker.process.send_bytes(zq::worker_link::frame(no_id));
    auto next = run(worker.process, task_request("j2", "zq.echo", {"still here"}));
    CHECK(next.result == Json{"still here"});
}

TEST_CASE("SIGUSR1 stops zq.sleep with 'canceled'", "[worker]") {
    ReadyWorker worker(kStockWorker);
    const auto started = std::chrono::steady_clock::now();
    worker.process.send(task_request("j1", "zq.sleep", {5}));
    auto done = cancel(worker.process, 3s);
    REQUIRE(done);
    CHECK(std::chrono::steady_clock::now() - started < 3s);
    CHECK_FALSE(done->ok);
    CHECK(done->error == "canceled");
    // The request ended with its task: the next one runs to its end.
    auto next = run(worker.process, task_request("j2", "zq.sleep", {0.01}));
    CHECK(next.ok);
}

TEST_CASE("the worker exits with status 0 when the node closes the link", "[worker]") {
    ReadyWorker worker(kStockWorker);
    worker.process.close_link();
    auto status = worker.process.wait_exit(kDeadline);
    REQUIRE(status);
    CHECK(WIFEXITED(*status));
    CHECK(WEXITSTATUS(*status) == 0);
}

TEST_CASE("a worker whose parent is already gone exits without serving", "[worker]") {
    WorkerProcess worker(kStockWorker, {std::string(zq::worker_link::kParentPidEnv) + "=2147483647"});
    CHECK_FALSE(worker.await_ready(kDeadline));
    auto status = worker.wait_exit(kDeadline);
    REQUIRE(status);
    CHECK(WIFEXITED(*status));
    CHECK(WEXITSTATUS(*status) != 0);
}

TEST_CASE("a worker without a link on its descriptor says so and exits", "[worker]") {
    WorkerProcess worker(kStockWorker, {std::string(zq::worker_link::kFdEnv) + "=57"});
    auto status = worker.wait_exit(kDeadline);
    REQUIRE(status);
    CHECK(WIFEXITED(*status));
    CHECK(WEXITSTATUS(*status) == 2);
}

// --- exec tasks -----------------------------------------------------------------------------

TEST_CASE("an exec task returns the command's exit status and output", "[worker][exec]") {
    ReadyWorker worker(kStockWorker);
    auto done = run(worker.process, exec_request("j1", {"/bin/echo"}, {"hello"}));
    INFO(done.error);
    REQUIRE(done.ok);
    CHECK(done.result == Json{{"exit", 0}, {"stdout", "hello\n"}, {"stderr", ""}, {"truncated", false}});
}

TEST_CASE("exec arguments that are not strings are passed as their JSON text", "[worker][exec]") {
    ReadyWorker worker(kStockWorker);
    const Json args = {42, -7, true, 1.5, nullptr, {1, "a"}, {{"k", 1}}};
    auto done = run(worker.process, exec_request("j1", {"/bin/echo"}, args));
    REQUIRE(done.ok);
    CHECK(done.result["stdout"] == "42 -7 true 1.5 null [1,\"a\"] {\"k\":1}\n");
}

TEST_CASE("an exec task's arguments never reach a shell", "[worker][exec]") {
    char directory_template[] = "/tmp/zq-test-worker-XXXXXX";
    REQUIRE(::mkdtemp(directory_template));
    const std::string directory = directory_template;
    const std::string hostile = "$(touch " + directory + "/a); `touch " + directory + "/b`; touch " + directory +
                                "/c | touch " + directory + "/d";
    ReadyWorker worker(kStockWorker);
    auto done = run(worker.process, exec_request("j1", {"/bin/echo"}, {hostile}));
    REQUIRE(done.ok);
    CHECK(done.result["stdout"] == hostile + "\n");
    for (const char* name : {"/a", "/b", "/c", "/d"}) CHECK_FALSE(exists(directory + name));
    ::rmdir(directory.c_str());
}

TEST_CASE("a command exiting non-zero fails with its status", "[worker][exec]") {
    ReadyWorker worker(kStockWorker);
    auto done = run(worker.process, exec_request("j1", {"/bin/false"}));
    CHECK_FALSE(done.ok);
    CHECK(done.error == "command /bin/false exited with status 1");
}

TEST_CASE("a failing command's stderr is quoted in the error", "[worker][exec]") {
    ReadyWorker worker(kStockWorker);
    auto done = run(worker.process, exec_request("j1", {"/bin/ls"}, {"/nonexistent"}));
    CHECK_FALSE(done.ok);
    CHECK_THAT(done.error, Catch::StartsWith("command /bin/ls exited with status 2: "));
    CHECK_THAT(done.error, Catch::Contains("/nonexistent"));
}

TEST_CASE("a command that cannot be started fails with the reason", "[worker][exec]") {
    ReadyWorker worker(kStockWorker);
    auto done = run(worker.process, exec_request("j1", {"/nonexistent/zq-no-such-program"}));
    CHECK_FALSE(done.ok);
    CHECK(done.error == "cannot run /nonexistent/zq-no-such-program: No such file or directory");
    auto next = run(worker.process, exec_request("j2", {"/bin/echo"}, {"ok"}));
    CHECK(next.ok);
}

TEST_CASE("output beyond the limit is read, discarded and flagged", "[worker][exec]") {
    ReadyWorker worker(kStockWorker);
    const std::vector<std::string> command = {"/usr/bin/head", "-c", "1000000", "/dev/zero"};
    auto bounded = run(worker.process, exec_request("j1", command, Json::array(), 1000));
    INFO(bounded.error);
    REQUIRE(bounded.ok);
    CHECK(bounded.result["exit"] == 0);
    CHECK(bounded.result["stdout"].get<std::string>().size() == 1000);
    CHECK(bounded.result["truncated"] == true);

    auto by_default = run(worker.process, exec_request("j2", command));
    REQUIRE(by_default.ok);
    CHECK(by_default.result["stdout"].get<std::string>().size() == 64 * 1024);
}

TEST_CASE("SIGUSR1 stops a running command with SIGTERM", "[worker][exec]") {
    ReadyWorker worker(kStockWorker);
    const auto started = std::chrono::steady_clock::now();
    worker.process.send(exec_request("j1", {"/bin/sleep"}, {"30"}));
    auto done = cancel(worker.process, 5s);
    REQUIRE(done);
    CHECK(std::chrono::steady_clock::now() - started < 5s);
    CHECK_FALSE(done->ok);
    CHECK(done->error == "canceled: command /bin/sleep killed by signal 15 (SIGTERM)");
}
