// The bodies of KEY-ACQUIRE, KEY-ANSWER and KEY-RELEASE (docs/protocol.md), written and read
// in one place, and ACCEPTED for a submission dropped as a duplicate of another job's key.
#pragma once

#include "key_ledger.hpp"

#include <zq/codec.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace zq::node {

// KEY-ACQUIRE {node, jobs: [{id, key, upol, lim, held?}], all?}.
std::string key_acquire_body(std::string_view node, const std::vector<KeyRequest>& requests, bool all);
// KEY-ANSWER {node, jobs: [{id, key, st, why?, dedup?}]}.
std::string key_answer_body(std::string_view node, const std::vector<KeyAnswer>& answers);
// KEY-RELEASE {node, jobs: [{id, key}]}.
std::string key_release_body(std::string_view node, const std::vector<KeyRequest>& released);

// The per-job items of those bodies; items without an id or key are left out. Requests and
// answers take `node` (the sender) as their origin.
std::vector<KeyRequest> read_key_requests(const Message& message);
std::vector<KeyAnswer> read_key_answers(const Message& message);

// ACCEPTED {id, st: canceled, node, dedup}: the submission was dropped as a duplicate.
std::string dropped_accepted_body(std::string_view id, std::string_view node, std::string_view dedup);

}  // namespace zq::node
