// The bodies of the messages the node writes about jobs, in one place so that every sender
// writes them alike (docs/protocol.md lists the fields): ACCEPTED and REJECTED, the job map
// of STATE and of control replies, the task envelope of FORWARD and BROADCAST, the short
// {id, node} notices (TAKEN, CANCEL to an owner, STATE-ACK), and CLAIM and CLAIMED.
#pragma once

#include "broadcast_collector.hpp"
#include "journal.hpp"

#include <zq/codec.hpp>
#include <zq/task.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace zq::node {

// A new job, queued on `node`, from a task envelope.
JobRecord record_from(Task&& task, std::int64_t now, const std::string& node);
// The envelope of a journaled job: record_from()'s inverse, the one way back to the wire.
Task task_from(const JobRecord& job);

// A workflow step's [workflow id, position], read from the envelope fields it carries.
std::optional<std::pair<std::string, std::string>> workflow_of(const JobRecord& job);

// The body of STATE, and the job map in control replies: {id, st, task, node, res?, err?};
// a succeeded job always has `res` (nil when the task returned nothing).
void write_job(BodyWriter& body, const JobRecord& job);
std::string job_body(const JobRecord& job);

// ACCEPTED: {id, st, node, dup?}.
std::string accepted_body(std::string_view id, JobState state, std::string_view node, bool duplicate);
// REJECTED: {why, id?}.
std::string rejected_body(std::string_view id, std::string_view reason);
// A request's `rid`: absent when the request had none, and then absent from the reply too.
using RequestId = std::optional<std::uint64_t>;
// CONTROL-REPLY: {rid?, ok: true, data} with `data` already packed, or {rid?, ok: false, err}.
std::string control_reply_body(RequestId request_id, std::string_view packed_data);
std::string control_error_body(RequestId request_id, std::string_view error);

// FORWARD: the task envelope, from `origin`.
std::string forward_body(const JobRecord& job, std::string_view origin);
// BROADCAST: the envelope and the target nodes. The publisher numbers it; a direct resend
// goes unnumbered.
void write_broadcast(BodyWriter& body, const JobRecord& job, const Outcomes& targets, std::string_view origin);

// {id, node}: which job, and which node says so (TAKEN, CANCEL to an owner, STATE-ACK).
std::string job_notice(std::string_view id, std::string_view node);

// CLAIM: {node, ids}: `node` asks an id's home to let it hold these ids.
std::string claim_body(std::string_view node, const std::vector<std::string>& ids);
// One answer of CLAIMED: the node holding `id`, and its job's state when the home knows it.
struct ClaimAnswer {
    std::string id;
    std::string holder;
    std::optional<JobState> state;
};
// CLAIMED: {node, claims: [{id, node, st?}]}, from the home `node`.
std::string claimed_body(std::string_view node, const std::vector<ClaimAnswer>& answers);

}  // namespace zq::node
