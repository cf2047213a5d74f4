// A client in C++: submit tasks to the local zq-node, wait for them, read their results.
//
//   zq-example-client [ENDPOINT]
//
// With no ENDPOINT it uses $ZQ_NODE, else the socket of the default data directory, the same
// rules as zq-send. It submits two jobs, both before it waits for either, so that they run side
// by side:
//
//   example.add (2, 3)    served by zq-example-worker (examples/worker/); returns 5
//   zq.echo (1, "two")    served by the stock zq-worker; returns its arguments
//
// A node runs one worker program, so on one node usually only one of the two succeeds: the
// other fails with "unknown task NAME", and this program says which worker serves it.
//
// Every call of zq::Client returns a zq::Result: test it like a bool, read the value with * or
// ->, and on failure read error() (a sentence) and error_code() (what kind of failure, to act
// on). Nothing throws across the client API. The exit codes follow zq-send's: 0 every job
// succeeded, 1 a job failed or was refused, 2 a malformed endpoint, 3 the node did not answer
// or a job did not finish in time.
#include <zq/client.hpp>
#include <zq/job.hpp>
#include <zq/result.hpp>
#include <zq/task.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <exception>
#include <iostream>
#include <string>
#include <tuple>

namespace {

using namespace std::chrono_literals;

constexpr int kExitSuccess = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;
constexpr int kExitUnreachable = 3;

// How long to wait for each job to finish once it was accepted.
constexpr zq::Milliseconds kWaitTimeout = 10s;

// Explains an error from the client API and returns the exit code for it.
int report(const std::string& what, const zq::Error& error) {
    std::cerr << "zq-example-client: " << what << ": " << error.message << "\n";
    switch (error.code) {
        case zq::ErrorCode::unreachable:
            // Nothing answered: usually no node runs on this host, or it serves another endpoint.
            std::cerr << "  Is a node running? Start one with `build/bin/zq-node run` (or `make run`), or point\n"
                         "  this program at yours: set ZQ_NODE or pass the endpoint, e.g.\n"
                         "  zq-example-client ipc:///tmp/zq-demo/node.sock\n";
            return kExitUnreachable;
        case zq::ErrorCode::timed_out:
            std::cerr << "  The node answers, but the job did not finish in time: ask again later with\n"
                         "  zq-send status ID.\n";
            return kExitUnreachable;
        case zq::ErrorCode::bad_input:
            std::cerr << "  The endpoint is malformed: ipc://PATH or tcp://HOST:PORT.\n";
            return kExitUsage;
        case zq::ErrorCode::not_found:
        case zq::ErrorCode::failed: break;
    }
    return kExitFailed;
}

// Which worker program serves a task of the examples.
std::string served_by(const std::string& task) {
    if (task.rfind("zq.", 0) == 0) return "the stock worker zq-worker (the node's default)";
    return "zq-example-worker: start the node with --worker build/bin/zq-example-worker";
}

// Waits for one job and prints its outcome; `print_result` reads the typed result.
template <class PrintResult>
int wait_and_print(zq::Client& client, const zq::Submitted& submitted, const std::string& task,
                   PrintResult print_result) {
    zq::Result<zq::JobInfo> job = client.wait(submitted.id, kWaitTimeout);
    if (!job) return report("waiting for job " + submitted.id, job.failure());
    if (!job->succeeded()) {
        // The job ran and ended failed, error or canceled: error says why.
        std::cout << task << " " << zq::to_string(job->state) << " on " << job->node << ": " << job->error << "\n";
        if (job->error.rfind("unknown task", 0) == 0) {
            std::cout << "  " << task << " is served by " << served_by(task) << "\n";
        }
        return kExitFailed;
    }
    try {
        print_result(*job);
    } catch (const std::exception& error) {
        // result_as<T>() throws msgpack::type_error when the result is not a T.
        std::cout << task << " succeeded, but its result is not what this client expects: " << error.what() << "\n";
        return kExitFailed;
    }
    return kExitSuccess;
}

}  // namespace

int main(int argc, char** argv) {
    // An empty endpoint means $ZQ_NODE, else the default data directory's socket.
    zq::Client client(argc > 1 ? argv[1] : "");
    std::cout << "zq-example-client: node at " << client.endpoint() << "\n";

    // Each submit() returns once the node has journaled the job (ACCEPTED): from here on the
    // job survives a restart of the node. The id is a UUIDv7 the client made.
    zq::Result<zq::Submitted> add = client.submit(zq::Task("example.add").with_args(2, 3));
    if (!add) return report("submitting example.add", add.failure());
    std::cout << "example.add accepted as " << add->id << "\n";

    zq::Result<zq::Submitted> echo = client.submit(zq::Task("zq.echo").with_args(1, std::string("two")));
    if (!echo) return report("submitting zq.echo", echo.failure());
    std::cout << "zq.echo accepted as " << echo->id << "\n";

    // Both jobs are queued or running now; wait for each in turn.
    const int add_outcome = wait_and_print(client, *add, "example.add", [](const zq::JobInfo& job) {
        std::cout << "example.add(2, 3) = " << job.result_as<std::int64_t>() << "\n";
    });
    const int echo_outcome = wait_and_print(client, *echo, "zq.echo", [](const zq::JobInfo& job) {
        auto [number, text] = job.result_as<std::tuple<std::int64_t, std::string>>();
        std::cout << "zq.echo(1, \"two\") = [" << number << ", \"" << text << "\"]\n";
    });

    // The worse of the two outcomes: a timeout (3) over a failure (1) over success (0).
    return std::max(add_outcome, echo_outcome);
}
