// ZQP/1, the wire protocol spoken between clients, nodes and peers.
//
// Every message is multipart: [ "ZQP1" ][ command byte ][ msgpack body ], with ROUTER
// identity frames in front where the socket adds them. The body is a msgpack map with short
// string keys. This header is the one place that defines the commands, their fields and the
// decoding limits: the codec validates against `kCommands`, and docs/protocol.md lists the
// same table (tests/test_protocol.cpp checks that the two agree).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace zq::protocol {

// First frame of every message; a different header is rejected, never guessed at.
inline constexpr std::string_view kHeader = "ZQP1";

enum class Command : std::uint8_t {
    hello = 0x01,          // peer → peer: open a peer link
    welcome = 0x02,        // peer → peer: answer to HELLO, carries the membership list
    heartbeat = 0x03,      // peer ↔ peer: sign of life with capacity and load
    disconnect = 0x04,     // peer → peer: graceful goodbye
    submit = 0x10,         // client → node: run this task
    accepted = 0x11,       // node → client: the task is journaled
    rejected = 0x12,       // node → client: the message or task was refused, with a reason
    forward = 0x13,        // origin → owner: run this task for me
    taken = 0x14,          // owner → origin: the forwarded task is journaled here
    state = 0x15,          // node → client, owner → origin: a job's state, result or error
    cancel = 0x16,         // client → node, origin → owner: cancel a job
    state_ack = 0x17,      // origin → owner: a terminal STATE is journaled, the owner may forget it
    claim = 0x18,          // origin → an id's home: may I hold these job ids?
    claimed = 0x19,        // home → origin: which node holds each id claimed
    key_acquire = 0x1a,    // origin → a key's home: may these jobs take a slot of their key?
    key_answer = 0x1b,     // home → origin: granted, waiting or dropped, per job
    key_release = 0x1c,    // origin → a key's home: these jobs ended, their slots are free
    workflow = 0x1d,       // client → node: run this workflow (chain, group, chord)
    control = 0x20,        // client → node: an operator request (status, running, job, watch...)
    control_reply = 0x21,  // node → client: answer to CONTROL
    broadcast = 0x30,      // client → node: run on every node; node → all nodes (PUB): the same
    event = 0x31,          // node → subscribers (PUB): a job transition
    tap = 0x32,            // node → subscribers (PUB): a ZQP message the node sent or received
    repair = 0x33,         // subscriber → publisher (peer link): resend this range of broadcasts
    gone = 0x34,           // publisher → subscriber (peer link): this range is no longer kept
};

// The msgpack type a field must have; `any` accepts every type (task arguments, results).
enum class FieldType : std::uint8_t { string, unsigned_integer, integer, number, boolean, array, map, any };

struct FieldSpec {
    std::string_view name;
    FieldType type;
    bool required;
    std::string_view meaning;
};

struct CommandSpec {
    Command command;
    std::string_view name;
    std::span<const FieldSpec> fields;
    std::string_view meaning;
};

// Field names, shared by every command that carries them.
namespace field {
inline constexpr std::string_view id = "id";                  // job id (UUIDv7 text)
inline constexpr std::string_view task = "task";              // task name
inline constexpr std::string_view args = "args";              // positional arguments (array)
inline constexpr std::string_view kwargs = "kw";              // keyword arguments (map)
inline constexpr std::string_view queue = "q";                // queue name
inline constexpr std::string_view target = "tgt";             // node that must run the job
inline constexpr std::string_view priority = "pri";           // higher runs first
inline constexpr std::string_view max_retries = "retries";    // retry policy: attempts after the first
inline constexpr std::string_view retry_delay = "rdelay";     // retry policy: seconds between attempts
inline constexpr std::string_view retry_backoff = "rbackoff";  // retry policy: exponential backoff base
inline constexpr std::string_view retry_backoff_max = "rbmax"; // retry policy: cap on one delay
inline constexpr std::string_view retry_jitter = "rjitter";    // retry policy: full jitter on delays
inline constexpr std::string_view retry_on_worker_lost = "rlost";  // retry policy: retry a dead worker's job
inline constexpr std::string_view attempts = "att";           // runs of a job started so far
inline constexpr std::string_view next_attempt = "next";      // unix ms of a retrying job's next attempt
inline constexpr std::string_view soft_time_limit = "soft";   // seconds, SIGUSR1 when exceeded
inline constexpr std::string_view hard_time_limit = "hard";   // seconds, SIGKILL when exceeded
inline constexpr std::string_view eta = "eta";                // unix ms: do not start before
inline constexpr std::string_view expires = "exp";            // unix ms: do not start after
inline constexpr std::string_view unique_key = "ukey";        // uniqueness key
inline constexpr std::string_view unique_policy = "upol";     // uniqueness policy
inline constexpr std::string_view key_concurrency = "kconc";  // jobs of the key that may run at once
inline constexpr std::string_view dedup = "dedup";            // the job a dropped one duplicates
inline constexpr std::string_view key = "key";                // a key's ledger name (key:K, queue:Q)
inline constexpr std::string_view limit = "lim";              // a key's concurrency limit (0: none)
inline constexpr std::string_view held = "held";              // the job already holds its slot
inline constexpr std::string_view all = "all";                // the sender's complete list for the home
inline constexpr std::string_view jobs = "jobs";              // [{...}] per job (KEY-ACQUIRE, KEY-ANSWER)
inline constexpr std::string_view links = "links";            // {"ok": [...], "err": [...]}
inline constexpr std::string_view workflow = "wf";            // workflow ids
inline constexpr std::string_view headers = "hdr";            // string map (trace context)
inline constexpr std::string_view weight = "wt";              // capacity units a job takes while it runs
inline constexpr std::string_view exclusive = "excl";         // the job runs alone on its node
inline constexpr std::string_view units = "units";            // a node's capacity in units
inline constexpr std::string_view watch = "watch";            // send STATE to me when terminal
inline constexpr std::string_view state = "st";               // job state name
inline constexpr std::string_view result = "res";             // task result (any)
inline constexpr std::string_view error = "err";              // error text
inline constexpr std::string_view node = "node";              // node name
inline constexpr std::string_view duplicate = "dup";          // SUBMIT of an id already known
inline constexpr std::string_view reason = "why";             // why a message was refused
inline constexpr std::string_view request_id = "rid";         // matches CONTROL to its reply
inline constexpr std::string_view operation = "op";           // CONTROL operation
inline constexpr std::string_view ok = "ok";                  // CONTROL outcome
inline constexpr std::string_view data = "data";              // CONTROL reply payload
inline constexpr std::string_view incarnation = "inc";        // boot id of a node
inline constexpr std::string_view capacity = "cap";           // free worker slots
inline constexpr std::string_view queues = "qs";              // queues served
inline constexpr std::string_view load = "load";              // jobs queued and running
inline constexpr std::string_view members = "members";       // membership list
inline constexpr std::string_view endpoint = "ep";            // a node's peer endpoint
inline constexpr std::string_view sequence = "seq";           // publisher sequence number
inline constexpr std::string_view time_us = "t";              // unix µs of the event
inline constexpr std::string_view publish = "pub";            // a node's PUB endpoint
inline constexpr std::string_view targets = "tgts";           // nodes a broadcast runs on
inline constexpr std::string_view from = "from";              // first sequence number of a range
inline constexpr std::string_view to = "to";                  // last sequence number of a range
inline constexpr std::string_view direction = "dir";          // "in" or "out" (tap)
inline constexpr std::string_view peer = "peer";              // the other end of a tapped message
inline constexpr std::string_view command = "cmd";            // command name of a tapped message
inline constexpr std::string_view body = "body";              // body of a tapped message
inline constexpr std::string_view ids = "ids";                // job ids (CLAIM)
inline constexpr std::string_view claims = "claims";          // [{id, node, st?}] (CLAIMED)
inline constexpr std::string_view flow = "flow";              // a workflow's tree (WORKFLOW)
inline constexpr std::string_view step = "step";              // a workflow step's position ("1.0")
inline constexpr std::string_view steps = "steps";            // a workflow's steps (status)
inline constexpr std::string_view step_count = "nsteps";      // how many steps a workflow has
}  // namespace field

namespace detail {
using enum FieldType;
namespace f = field;

// Concatenates two field tables (BROADCAST is the envelope plus the fanout fields).
template <std::size_t A, std::size_t B>
constexpr auto join(const FieldSpec (&first)[A], const FieldSpec (&second)[B]) {
    std::array<FieldSpec, A + B> joined{};
    for (std::size_t i = 0; i < A; ++i) joined[i] = first[i];
    for (std::size_t i = 0; i < B; ++i) joined[A + i] = second[i];
    return joined;
}

// The task envelope, carried by SUBMIT, FORWARD and BROADCAST.
inline constexpr FieldSpec kEnvelope[] = {
    {f::id, string, true, "job id, a UUIDv7 made by the client; resubmitting it is idempotent"},
    {f::task, string, true, "task name"},
    {f::args, array, false, "positional arguments (default [])"},
    {f::kwargs, map, false, "keyword arguments (default {})"},
    {f::queue, string, false, "queue (default \"default\")"},
    {f::target, string, false, "name of the node that must run it"},
    {f::priority, integer, false, "higher runs first (default 0)"},
    {f::max_retries, unsigned_integer, false, "retries after a failed attempt (default 0)"},
    {f::retry_delay, number, false, "seconds between attempts (without backoff)"},
    {f::retry_backoff, number, false, "seconds: the first retry's delay, doubled for each next one"},
    {f::retry_backoff_max, number, false, "seconds: the longest delay backoff reaches (default 600)"},
    {f::retry_jitter, boolean, false, "each delay is drawn at random between 0 and its value"},
    {f::retry_on_worker_lost, boolean, false, "a job whose worker died is run again"},
    {f::soft_time_limit, number, false, "seconds before SIGUSR1"},
    {f::hard_time_limit, number, false, "seconds before SIGKILL"},
    {f::eta, unsigned_integer, false, "unix ms, not before"},
    {f::expires, unsigned_integer, false, "unix ms, not after"},
    {f::unique_key, string, false, "uniqueness and throttle key; \"task+args\" derives it from the task and its arguments"},
    {f::unique_policy, string, false, "on_duplicate: parallel (default), discard, serial or queue_one"},
    {f::key_concurrency, unsigned_integer, false, "jobs of the key that may run at once in the cluster (0: no limit)"},
    {f::links, map, false, "tasks to run on success (ok) or error (err)"},
    {f::workflow, array, false, "workflow ids"},
    {f::headers, map, false, "string headers (trace context)"},
    {f::weight, unsigned_integer, false, "capacity units it takes while it runs (default 1, or its task's weight)"},
    {f::exclusive, boolean, false, "it runs alone on its node (default false, or its task's setting)"},
    {f::watch, boolean, false, "send STATE to the submitter when the job ends"},
    {f::node, string, false, "in FORWARD: the origin node, which the owner reports to"},
};

inline constexpr FieldSpec kHello[] = {
    {f::node, string, true, "sender's node name"},
    {f::incarnation, string, true, "sender's boot id"},
    {f::endpoint, string, false, "sender's peer endpoint"},
    {f::publish, string, false, "sender's PUB endpoint (broadcasts, events, tap)"},
    {f::sequence, unsigned_integer, false, "last broadcast sequence number the sender published"},
    {f::key, string, false, "sender's CURVE public key (Z85), when it has a key pair"},
};
inline constexpr FieldSpec kWelcome[] = {
    {f::node, string, true, "sender's node name"},
    {f::incarnation, string, true, "sender's boot id"},
    {f::members, array, false, "known members: [{node, ep, key?}]"},
    {f::publish, string, false, "sender's PUB endpoint"},
    {f::sequence, unsigned_integer, false, "last broadcast sequence number the sender published"},
    {f::key, string, false, "sender's CURVE public key (Z85), when it has a key pair"},
};
inline constexpr FieldSpec kHeartbeat[] = {
    {f::node, string, true, "sender's node name"},
    {f::incarnation, string, true, "sender's boot id"},
    {f::capacity, unsigned_integer, false, "free capacity units (0 when no worker is free)"},
    {f::units, unsigned_integer, false, "capacity in units; cap equal to it means nothing runs there"},
    {f::queues, array, false, "queues served"},
    {f::load, unsigned_integer, false, "jobs queued and running"},
    {f::endpoint, string, false, "sender's peer endpoint"},
    {f::publish, string, false, "sender's PUB endpoint"},
    {f::sequence, unsigned_integer, false, "last broadcast sequence number the sender published"},
    {f::key, string, false, "sender's CURVE public key (Z85), when it has a key pair"},
};
inline constexpr FieldSpec kDisconnect[] = {
    {f::node, string, true, "sender's node name"},
    {f::incarnation, string, false, "sender's boot id"},
};
inline constexpr FieldSpec kAccepted[] = {
    {f::id, string, true, "job id"},
    {f::state, string, true, "job state after acceptance"},
    {f::node, string, false, "the node that holds the job: this one, or for a duplicate another node of the cluster"},
    {f::duplicate, boolean, false, "true when the id was already known (nothing new runs)"},
    {f::dedup, string, false, "the job a dropped submission duplicates (st canceled; on_duplicate discard, queue_one)"},
};
inline constexpr FieldSpec kRejected[] = {
    {f::reason, string, true, "why: malformed message, node busy, journal unwritable..."},
    {f::id, string, false, "job id, when it could be read"},
    {f::endpoint, string, false, "the node's peer endpoint, in answer to a HELLO on its client port"},
};
inline constexpr FieldSpec kTaken[] = {
    {f::id, string, true, "job id"},
    {f::node, string, true, "owner node"},
};
inline constexpr FieldSpec kState[] = {
    {f::id, string, true, "job id"},
    {f::state, string, true, "job state"},
    {f::result, any, false, "task result when succeeded"},
    {f::error, string, false, "error text when failed, error or canceled"},
    {f::node, string, false, "node that ran (or holds) the job"},
    {f::task, string, false, "task name"},
    {f::eta, unsigned_integer, false, "unix ms, not before (scheduled)"},
    {f::expires, unsigned_integer, false, "unix ms, not after"},
    {f::attempts, unsigned_integer, false, "runs started so far"},
    {f::next_attempt, unsigned_integer, false, "unix ms when a retrying job is queued again"},
    {f::workflow, array, false, "a workflow step's [workflow id, position]"},
    {f::steps, array, false, "a workflow's steps: [{id, node, st, step, task}]"},
    {f::step_count, unsigned_integer, false, "a workflow's number of steps (steps lists at most the first ones)"},
};
inline constexpr FieldSpec kCancel[] = {
    {f::id, string, true, "job id"},
    {f::request_id, unsigned_integer, false, "matches the reply"},
    {f::node, string, false, "origin node, when an origin cancels at the owner (no reply then)"},
};
inline constexpr FieldSpec kStateAck[] = {
    {f::id, string, true, "job id"},
    {f::node, string, true, "origin node that journaled the terminal state"},
};
inline constexpr FieldSpec kClaim[] = {
    {f::node, string, true, "the claiming node (the origin of the jobs)"},
    {f::ids, array, true, "job ids the claiming node journaled and asks to hold"},
};
inline constexpr FieldSpec kClaimed[] = {
    {f::node, string, true, "the home that decided"},
    {f::claims, array, true, "[{id, node, st?}]: the node holding each id, and its state when the home holds it"},
};
inline constexpr FieldSpec kKeyAcquire[] = {
    {f::node, string, true, "the origin asking"},
    {f::jobs, array, true, "[{id, key, upol, lim, held?}]: a job, its key's ledger name, policy, limit"},
    {f::all, boolean, false, "true: the list is every job the origin has at this home; forget the others"},
};
inline constexpr FieldSpec kKeyAnswer[] = {
    {f::node, string, true, "the home answering"},
    {f::jobs, array, true, "[{id, key, st, why?, dedup?}]: st granted, waiting or dropped"},
};
inline constexpr FieldSpec kKeyRelease[] = {
    {f::node, string, true, "the origin releasing"},
    {f::jobs, array, true, "[{id, key}]: jobs that ended (or gave up waiting)"},
};
inline constexpr FieldSpec kWorkflow[] = {
    {f::id, string, true, "workflow id, a UUIDv7 made by the client; resubmitting it is idempotent"},
    {f::flow, map, true, "the workflow: {task: ...}, {chain: [...]}, {group: [...]} or {chord: {group, then}}"},
    {f::watch, boolean, false, "send STATE to the submitter when the workflow ends"},
};
inline constexpr FieldSpec kControl[] = {
    {f::operation, string, true,
     "status, running, peers, reload, job, watch, trace-on, trace-off, history or schedules"},
    {f::request_id, unsigned_integer, false, "echoed in the reply"},
    {f::id, string, false, "job id for job, watch and history"},
};
inline constexpr FieldSpec kControlReply[] = {
    {f::request_id, unsigned_integer, false, "the request's rid"},
    {f::ok, boolean, true, "whether the operation succeeded"},
    {f::error, string, false, "why it failed"},
    {f::data, any, false, "the answer"},
};
// What a published BROADCAST adds to the envelope (whose `node` is the origin).
inline constexpr FieldSpec kPublished[] = {
    {f::incarnation, string, false, "publisher's boot id (the sequence numbers are per incarnation)"},
    {f::sequence, unsigned_integer, false, "publisher sequence number on the broadcast stream"},
    {f::time_us, unsigned_integer, false, "unix µs when it was published"},
    {f::targets, array, false, "names of the nodes that run it (live when it was published)"},
};
inline constexpr auto kBroadcast = join(kEnvelope, kPublished);
inline constexpr FieldSpec kEvent[] = {
    {f::node, string, true, "publishing node"},
    {f::sequence, unsigned_integer, true, "publisher sequence number on the event stream"},
    {f::incarnation, string, false, "publisher's boot id"},
    {f::time_us, unsigned_integer, false, "unix µs of the transition"},
    {f::id, string, false, "job id"},
    {f::state, string, false, "the job's new state"},
    {f::task, string, false, "task name"},
    {f::queue, string, false, "queue"},
    {f::error, string, false, "error text (failed, error, canceled, retrying), at most 512 bytes"},
    {f::attempts, unsigned_integer, false, "runs started so far (retrying)"},
    {f::next_attempt, unsigned_integer, false, "unix ms of the next attempt (retrying), or the ETA (scheduled)"},
    {f::workflow, array, false, "a workflow step's [workflow id, position]"},
};
inline constexpr FieldSpec kTap[] = {
    {f::node, string, true, "publishing node"},
    {f::sequence, unsigned_integer, true, "publisher sequence number on the tap stream"},
    {f::incarnation, string, false, "publisher's boot id"},
    {f::time_us, unsigned_integer, false, "unix µs when the message was sent or received"},
    {f::direction, string, true, "in (received) or out (sent)"},
    {f::peer, string, false, "the other end: a peer node's name, or client:HEX for a client"},
    {f::command, string, true, "command name of the tapped message"},
    {f::id, string, false, "job id, when the message carries one"},
    {f::task, string, false, "task name, when the message carries one"},
    {f::state, string, false, "job state, when the message carries one"},
    {f::body, any, false, "the tapped body (left out above 4 KiB)"},
};
inline constexpr FieldSpec kRepair[] = {
    {f::node, string, true, "the subscriber asking"},
    {f::incarnation, string, true, "the publisher incarnation the range belongs to"},
    {f::from, unsigned_integer, true, "first missing sequence number"},
    {f::to, unsigned_integer, true, "last missing sequence number"},
};
inline constexpr FieldSpec kGone[] = {
    {f::node, string, true, "the publisher"},
    {f::incarnation, string, true, "the publisher incarnation"},
    {f::from, unsigned_integer, true, "first sequence number no longer kept"},
    {f::to, unsigned_integer, true, "last sequence number no longer kept"},
};
}  // namespace detail

inline constexpr CommandSpec kCommands[] = {
    {Command::hello, "HELLO", detail::kHello, "open a peer link"},
    {Command::welcome, "WELCOME", detail::kWelcome, "accept a peer link, share membership"},
    {Command::heartbeat, "HEARTBEAT", detail::kHeartbeat, "sign of life with capacity and load"},
    {Command::disconnect, "DISCONNECT", detail::kDisconnect, "graceful goodbye"},
    {Command::submit, "SUBMIT", detail::kEnvelope, "run a task (the task envelope)"},
    {Command::accepted, "ACCEPTED", detail::kAccepted, "the task is journaled"},
    {Command::rejected, "REJECTED", detail::kRejected, "a message or task was refused"},
    {Command::forward, "FORWARD", detail::kEnvelope, "origin asks an owner to run a task"},
    {Command::taken, "TAKEN", detail::kTaken, "owner journaled a forwarded task"},
    {Command::state, "STATE", detail::kState, "a job's state, result or error"},
    {Command::cancel, "CANCEL", detail::kCancel, "cancel a job"},
    {Command::state_ack, "STATE-ACK", detail::kStateAck, "origin journaled a terminal STATE"},
    {Command::claim, "CLAIM", detail::kClaim, "origin asks an id's home to hold job ids"},
    {Command::claimed, "CLAIMED", detail::kClaimed, "home says which node holds each id"},
    {Command::key_acquire, "KEY-ACQUIRE", detail::kKeyAcquire, "origin asks a key's home for slots"},
    {Command::key_answer, "KEY-ANSWER", detail::kKeyAnswer, "home grants, queues or drops each job"},
    {Command::key_release, "KEY-RELEASE", detail::kKeyRelease, "origin frees the slots of ended jobs"},
    {Command::workflow, "WORKFLOW", detail::kWorkflow, "run a workflow of tasks (chain, group, chord)"},
    {Command::control, "CONTROL", detail::kControl, "operator request"},
    {Command::control_reply, "CONTROL-REPLY", detail::kControlReply, "answer to CONTROL"},
    {Command::broadcast, "BROADCAST", detail::kBroadcast, "run a task on every node"},
    {Command::event, "EVENT", detail::kEvent, "a job transition on the event stream"},
    {Command::tap, "TAP", detail::kTap, "a message a node sent or received (protocol tap)"},
    {Command::repair, "REPAIR", detail::kRepair, "resend a range of broadcasts"},
    {Command::gone, "GONE", detail::kGone, "a range of broadcasts is no longer kept"},
};

// Looks a command byte up in kCommands; nullptr for an unknown command.
const CommandSpec* find_command(std::uint8_t code);
std::string_view command_name(Command command);
std::string_view field_type_name(FieldType type);

// Bounds on what a decoder accepts. Anything beyond them is rejected with a reason.
struct Limits {
    std::size_t max_message_bytes = 1 << 20;  // whole body
    std::size_t max_depth = 16;               // nesting of arrays and maps
    std::size_t max_string_bytes = 512 << 10;  // one string or binary
    std::size_t max_array_items = 65536;
    std::size_t max_map_entries = 4096;
    std::size_t max_name_bytes = 256;  // ids, task names, queues, node names
};

}  // namespace zq::protocol
