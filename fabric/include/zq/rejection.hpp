// The reasons a node gives in REJECTED, as one table.
//
// Every `why` a node writes begins with one of these prefixes, so that a client can act on
// the kind of refusal (retry later, fix the task, give up) without parsing free text, and so
// that the node counts its refusals by kind (`zq-node status`, `messages.rejected_by`).
// docs/protocol.md lists the same table; tests/test_protocol_spec.cpp checks that the two
// agree.
#pragma once

#include <cstddef>
#include <string_view>

namespace zq::protocol {

struct RejectionKind {
    std::string_view prefix;   // what `why` starts with
    std::string_view meaning;  // when the node answers so, and what a client should do
};

inline constexpr RejectionKind kRejections[] = {
    {"malformed message:", "the message failed decoding (header, command, msgpack, limits, field types, nil, UTF-8)"},
    {"bad task:", "the envelope is readable but invalid (empty id, name or queue, an id with '@', a time out of range, bad headers or links, a broadcast too large)"},
    {"bad workflow:", "the workflow is readable but invalid (its id, an unknown key, a wrong type, an empty chain or group, too many steps or levels)"},
    {"too heavy:", "the job's weight exceeds the capacity of every node that may run it"},
    {"node busy:", "max_pending jobs are already held; retry later"},
    {"journal unwritable:", "the journal cannot be written (disk full, read-only); nothing was accepted"},
    {"journal unreadable:", "the id is in the journal but the journal could not be read; retry later"},
    {"node shutting down", "the node received SIGTERM and takes no new work"},
    {"peer command on the client port", "a command only peers send, on the client port: refused, nothing changed"},
    {"not a request:", "a command a node sends (ACCEPTED, REJECTED, CONTROL-REPLY, EVENT, TAP), sent to a node"},
    {"client command on the peer port", "a client's command on the peer port: refused, nothing changed"},
    {"unknown peer:", "a peer command on the peer port naming a node this one does not know"},
};
inline constexpr std::size_t kRejectionKinds = std::size(kRejections);

// The index in kRejections of the kind `reason` belongs to, or kRejectionKinds when it
// begins with none of the prefixes (a bug: every reason should have a kind).
std::size_t rejection_kind(std::string_view reason);

// The kind's name in status: its prefix without the trailing colon.
std::string_view rejection_name(std::size_t kind);

}  // namespace zq::protocol
