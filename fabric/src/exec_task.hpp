// Exec tasks: a command declared in the node's config, run by the worker for one job.
//
// The command line is the configured argv with the task's positional arguments appended,
// each one its own argv entry: a string as it is, any other value as its JSON text (42, 1.5,
// true, null, [1,2]). Nothing goes through a shell, so no argument can inject a command.
//
// The command runs in its own process group (the node can signal all of it), dies with the
// worker (parent-death signal), reads /dev/null, and has its stdout and stderr captured. It
// inherits the worker's environment, plus ZQ_JOB_ID (the job's id) and ZQ_TASK (its name).
// Each stream keeps at most `output_limit` bytes: the beginning of stdout (the data a caller
// parses) and the end of stderr (where a failing command says why); the rest is read and
// discarded so the command never blocks on a full pipe, and `truncated` says so. A cancel
// (SIGUSR1 to the worker) sends SIGTERM to the command's process group.
//
// Internal to zqfabric: used by Worker::run for RUN frames that carry `exec`.
#pragma once

#include <zq/result.hpp>
#include <zq/worker.hpp>

#include <msgpack.hpp>

#include <cstddef>
#include <string>
#include <vector>

namespace zq::exec_task {

// Bytes of stdout and of stderr kept when the RUN frame sets no limit.
inline constexpr std::size_t kDefaultOutputLimit = 64 << 10;
// Bytes of stderr quoted in the error of a command that failed.
inline constexpr std::size_t kErrorQuoteBytes = 500;

// The command line: `command` followed by one entry per element of the args array.
// Fails when args is not an array.
Result<std::vector<std::string>> command_line(const std::vector<std::string>& command, const msgpack::object& args);

// Runs the command line to its end. On exit status 0 the outcome is the packed result map
// {exit, stdout, stderr, truncated}; otherwise the error says how the command ended (status
// and the last lines of stderr, the signal, or why it could not be started).
//
// `wake_fd` is the read end of the worker's self-pipe: it becomes readable when a signal
// arrived, so the wait for the command wakes up and looks at context.cancel_requested().
struct Ended {
    Result<std::string> outcome;
    int exit_status = -1;  // the command's exit status; -1 when it did not exit (signal, never started)
};
Ended run(const std::vector<std::string>& argv, std::size_t output_limit, const TaskContext& context, int wake_fd);

}  // namespace zq::exec_task
