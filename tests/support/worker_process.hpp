// A worker process started the way zq-node starts one (the worker link on fd 3, the parent's
// pid in ZQ_PARENT_PID), for tests that talk to real worker binaries over the link.
//
//   zq::test::WorkerProcess worker(ZQ_BIN_DIR "/zq-worker");
//   REQUIRE(worker.await_ready(kDeadline));
//   auto done = worker.run(zq::test::task_request("j1", "zq.echo", {1, "two"}), kDeadline);
//   REQUIRE(done);
//   CHECK(done->result == nlohmann::json::array({1, "two"}));
//
// Every wait takes a deadline. The destructor kills and reaps a worker still running.
#pragma once

#include <zq/worker_link.hpp>

#include <nlohmann/json.hpp>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace zq::test {

// What a RUN frame carries; `exec` empty means a C++ task.
struct RunRequest {
    std::string id;
    std::string task;
    nlohmann::json args = nlohmann::json::array();
    std::vector<std::string> exec;
    std::optional<std::uint64_t> output_limit;
};

// A RUN for the C++ task `task`.
RunRequest task_request(std::string id, std::string task, nlohmann::json args = nlohmann::json::array());
// A RUN for an exec task: `command` with `args` appended, output bounded by `output_limit`.
RunRequest exec_request(std::string id, std::vector<std::string> command, nlohmann::json args = nlohmann::json::array(),
                        std::optional<std::uint64_t> output_limit = std::nullopt);

// The framed RUN message for `request`, ready to write to the link.
std::string run_frame(const RunRequest& request);

// A DONE frame read back from the worker.
struct TaskOutcome {
    std::string id;
    bool ok = false;
    nlohmann::json result;  // the result as JSON (null when absent)
    std::string error;
};

class WorkerProcess {
public:
    // Starts `program` with the link on fd 3; `environment` entries ("NAME=value") are
    // added to (or replace those of) the test's own environment.
    explicit WorkerProcess(const std::string& program, std::vector<std::string> environment = {});
    ~WorkerProcess();
    WorkerProcess(const WorkerProcess&) = delete;
    WorkerProcess& operator=(const WorkerProcess&) = delete;

    pid_t pid() const { return pid_; }

    // Writes bytes to the link as they are (framed or deliberately not).
    void send_bytes(const std::string& bytes);
    void send(const RunRequest& request) { send_bytes(run_frame(request)); }

    // The next frame's fields as JSON, or nothing when none came before the deadline or the
    // worker closed the link.
    std::optional<nlohmann::json> receive(std::chrono::milliseconds timeout);
    // Waits for READY and returns the pid it announced.
    std::optional<std::int64_t> await_ready(std::chrono::milliseconds timeout);
    // Waits for the next DONE.
    std::optional<TaskOutcome> await_done(std::chrono::milliseconds timeout);
    // Sends RUN and waits for its DONE.
    std::optional<TaskOutcome> run(const RunRequest& request, std::chrono::milliseconds timeout);

    void signal(int signal_number) const;
    // Closes the test's end of the link, as a node that went away would.
    void close_link();
    // The wait status once the worker exited, or nothing if it still runs at the deadline.
    std::optional<int> wait_exit(std::chrono::milliseconds timeout);

private:
    pid_t pid_ = -1;
    int link_fd_ = -1;
    bool reaped_ = false;
    worker_link::FrameReader reader_;
};

}  // namespace zq::test
