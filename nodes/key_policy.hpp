// Which slots a job must hold before it may be queued: its key's and its queue's cluster-wide
// limit (docs/architecture.md, "Keys: uniqueness and throttles"). A pure decision, from the job
// and the config; a job's own settings win over its task's.
//
// A slot is taken from a *lock*, named "key:K" for a job's key K and "queue:Q" for a queue Q
// with `cluster_concurrency`. Each lock has a home node (claim_home.hpp), whose key ledger
// (key_ledger.hpp) grants the slots; the origin asks for its job's locks one after the other,
// the key's first, so that a job holding a queue slot never waits for anything else.
#pragma once

#include "config.hpp"
#include "journal.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace zq::node {

// dispatcherd's on_duplicate.
enum class KeyPolicy : std::uint8_t {
    parallel,   // no uniqueness: a key with a concurrency limit still throttles
    discard,    // a new job is dropped while one with the key is queued or running
    serial,     // jobs of the key run one after another, in submission order
    queue_one,  // at most one waits behind the running one; a further one is dropped
};

std::string_view to_string(KeyPolicy policy);
std::optional<KeyPolicy> key_policy_from_string(std::string_view name);

// The key text that means "derive the key from the task name and its packed arguments".
inline constexpr std::string_view kDerivedKey = "task+args";

struct KeyLock {
    std::string name;  // "key:K" or "queue:Q"
    KeyPolicy policy = KeyPolicy::parallel;
    std::uint32_t limit = 1;  // slots of the lock that may be held at once (at least 1)
};

// The key of a job: `key` as given, or for "task+args" the task name, ':' and the packed
// arguments in hexadecimal (above 64 bytes of arguments, a 128-bit hash of them instead).
std::string effective_key(std::string_view key, std::string_view task, std::string_view packed_args);

// The locks `job` must hold, in the order they are taken; empty for most jobs (no key, no
// cluster-wide queue limit), which pass the gate without a message.
std::vector<KeyLock> locks_for(const JobRecord& job, const Config& config);

// What a waiting job's reason says about a lock: "key K" or "queue Q".
std::string lock_label(std::string_view lock_name);

}  // namespace zq::node
