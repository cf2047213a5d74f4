// A RUN frame of the worker link (zq/worker_link.hpp) as the worker reads it: the fields
// checked against the types the link gives them. Internal to zqfabric: Worker::run reads each
// RUN with it, and the worker_link fuzz target reads frames with it too.
#pragma once

#include "exec_task.hpp"

#include <zq/result.hpp>

#include <msgpack.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace zq {

// A RUN frame, checked: the fields present have the types the protocol gives them.
struct RunRequest {
    std::string id;
    std::string task;
    msgpack::object args;
    msgpack::object kwargs;
    std::optional<std::vector<std::string>> exec;
    std::size_t output_limit = exec_task::kDefaultOutputLimit;
    int retry_exit_code = -1;  // an exec exit status that asks for a retry
};

// Reads the fields of a RUN frame whose id is already known to be readable. `args` and
// `kwargs` point into `body`, which must outlive the request.
Result<RunRequest> parse_run(const msgpack::object& body, std::string id);

}  // namespace zq
