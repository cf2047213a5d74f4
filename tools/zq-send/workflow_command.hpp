// zq-send workflow FILE|-: submits the workflow a JSON file (or stdin) describes.
//
//   zq-send workflow FILE|- [--node ENDPOINT] [--id ID] [--wait] [--timeout SEC] [--json]
//
// The JSON is the flow map of WORKFLOW, key for key ({"chain": [...]}, {"group": [...]},
// {"chord": {"group": [...], "then": STEP}}, a STEP {"task", "args", "kwargs", "queue",
// "target", "immutable", "link", "link_error", ...}; docs/protocol.md), converted to msgpack
// as is: the node checks it and answers REJECTED with the reason when it is malformed.
// Without --wait it prints the workflow's id. With --wait it waits for the workflow's end
// and prints it; with --json as one object {id, state, result, error, steps: [{id, node,
// state, step, task}], ...}. Exit codes as for jobs: 0 succeeded, 1 failed, canceled or
// rejected, 2 bad usage, 3 no answer or not ended in time.
#pragma once

namespace zq::send {

int run_workflow_command(int argc, char** argv);

}  // namespace zq::send
