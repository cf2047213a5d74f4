// A workflow's plan: the flow tree a client sent (chain, group, chord, links) turned into a
// flat list of steps, each an ordinary job, with what it waits for and what feeds its first
// argument. Pure: no journal, no clock, no process; tests/test_workflow_plan.cpp drives it.
//
// The flow is a msgpack map, exactly one of
//   {task: NAME, args?, kwargs?, queue?, target?, immutable?, priority?, retries?,
//    retry_delay?, link?: FLOW, link_error?: FLOW}
//   {chain: [FLOW, ...]}   {group: [FLOW, ...]}   {chord: {group: [FLOW, ...], then: FLOW}}
// (the JSON keys of `zq-send workflow`). Unknown keys, wrong types, empty chains or groups,
// more than kMaxWorkflowSteps steps or kMaxWorkflowDepth levels are refused with a reason.
//
// Steps are numbered in an order where every step comes after the steps it waits for, so
// that index order is an order the workflow can be replayed in (workflow_book.cpp relies on
// it after a restart). A step's job id is WORKFLOW/INDEX; its position names where it sits
// in the tree ("1", "1.0", "2.link"), for people.
#pragma once

#include <zq/result.hpp>

#include <msgpack.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace zq::node {

// The task name of the job that stands for a whole workflow at its origin.
inline constexpr std::string_view kWorkflowTask = "zq.workflow";
// Bounds on one workflow: steps, nesting, and edges (a group followed by a group makes
// every member of the second wait for every member of the first).
inline constexpr std::size_t kMaxWorkflowSteps = 100000;
inline constexpr std::size_t kMaxWorkflowDepth = 32;
inline constexpr std::size_t kMaxWorkflowEdges = 1000000;

// What one step runs: the job's settings taken from its flow map.
struct StepSpec {
    std::string task;
    std::string args = std::string("\x90", 1);    // msgpack array
    std::string kwargs = std::string("\x80", 1);  // msgpack map
    std::string queue = "default";
    std::string target;
    bool immutable = false;  // takes no result from the steps before it (Celery's si)
    std::int64_t priority = 0;
    std::uint32_t max_retries = 0;
    double retry_delay = 0;
};

// When a step may run, once its predecessors have ended.
enum class Trigger : std::uint8_t {
    after,       // every predecessor succeeded (chain, group, chord order)
    on_success,  // a `link`: its one predecessor succeeded
    on_failure,  // a `link_error`: its one predecessor failed; it gets [failed id, error]
};

// A value made of step results: one step's result, or a list of values (a group's result),
// or the seed of a callback workflow (the arguments it starts with, spliced in front).
struct PlanValue {
    std::int64_t step = -1;           // >= 0: that step's result
    std::vector<std::uint32_t> items;  // step < 0: a list of these values (indices in Plan::values)
    std::string seed;                  // a packed array: its items go first in the args, as they are
};

struct PlanStep {
    StepSpec spec;
    std::string position;
    Trigger trigger = Trigger::after;
    std::int64_t feed = -1;  // the value prepended to its args (index in Plan::values), -1 for none
    std::vector<std::uint32_t> predecessors;
    std::vector<std::uint32_t> successors;
};

struct Plan {
    std::vector<PlanStep> steps;
    std::vector<PlanValue> values;
    std::int64_t result = -1;  // the workflow's result value
};

// Reads and checks a flow; the error says what is wrong and where ("chain[2].group[0]: ...").
// A `seed` (a packed array, "" for none) feeds the flow's first steps: the callbacks of a
// plain job's `links` start with [result], or [job id, error], so.
Result<Plan> plan_workflow(const msgpack::object& flow, std::string_view seed = {});
Result<Plan> plan_workflow(std::string_view packed_flow, std::string_view seed = {});

// The callbacks of a plain job's `links` envelope field ({ok: [FLOW...], err: [FLOW...]}),
// as packed flows, each checked; nullopt when the job has none.
struct Links {
    std::vector<std::string> ok;   // run when the job succeeded, with [result] first
    std::vector<std::string> err;  // run once when it failed (after its retries), with [id, error] first
};
Result<std::optional<Links>> read_links(std::string_view carried);

// WORKFLOW/INDEX, and back (nullopt for an id that is not a step's).
std::string step_id(std::string_view workflow, std::size_t index);
std::optional<std::pair<std::string_view, std::size_t>> parse_step_id(std::string_view id);

// The msgpack bytes of a value, given the results of the steps it names ("" means nil).
using ResultOf = std::function<std::string_view(std::uint32_t step)>;
std::string materialize(const Plan& plan, std::int64_t value, const ResultOf& result_of);
// A released step's args: its feed first unless it is immutable; a link_error gets
// [failed id, error] first instead.
std::string step_args(const Plan& plan, std::uint32_t step, const ResultOf& result_of);
std::string error_callback_args(const Plan& plan, std::uint32_t step, std::string_view failed_id,
                                std::string_view error);

}  // namespace zq::node
