#include "key_policy.hpp"

#include "claim_home.hpp"

#include <cstdio>

namespace zq::node {
namespace {

constexpr std::string_view kKeyPrefix = "key:";
constexpr std::string_view kQueuePrefix = "queue:";
// Arguments longer than this are keyed by a hash of them, so that a key stays a short text.
constexpr std::size_t kMaxHexArgumentBytes = 64;

std::string hex(std::string_view bytes) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string text;
    text.reserve(bytes.size() * 2);
    for (unsigned char byte : bytes) {
        text += kDigits[byte >> 4];
        text += kDigits[byte & 0x0f];
    }
    return text;
}

}  // namespace

std::string_view to_string(KeyPolicy policy) {
    switch (policy) {
        case KeyPolicy::parallel: return "parallel";
        case KeyPolicy::discard: return "discard";
        case KeyPolicy::serial: return "serial";
        case KeyPolicy::queue_one: return "queue_one";
    }
    return "parallel";
}

std::optional<KeyPolicy> key_policy_from_string(std::string_view name) {
    if (name == "parallel") return KeyPolicy::parallel;
    if (name == "discard") return KeyPolicy::discard;
    if (name == "serial") return KeyPolicy::serial;
    if (name == "queue_one") return KeyPolicy::queue_one;
    return std::nullopt;
}

std::string effective_key(std::string_view key, std::string_view task, std::string_view packed_args) {
    if (key != kDerivedKey) return std::string(key);
    if (packed_args.size() <= kMaxHexArgumentBytes) return std::string(task) + ":" + hex(packed_args);
    // Two independent 64-bit weights of the same bytes: a 128-bit digest, the same on every
    // host (claim_weight never depends on the build).
    char digest[40];
    std::snprintf(digest, sizeof digest, "#%016llx%016llx",
                  static_cast<unsigned long long>(claim_weight(packed_args, "key-digest-1")),
                  static_cast<unsigned long long>(claim_weight(packed_args, "key-digest-2")));
    return std::string(task) + ":" + digest;
}

std::vector<KeyLock> locks_for(const JobRecord& job, const Config& config) {
    std::vector<KeyLock> locks;
    const TaskSettings* task = nullptr;
    if (auto found = config.tasks.find(job.task); found != config.tasks.end()) task = &found->second;

    std::string key = job.unique_key;
    if (key.empty() && task) key = task->key;
    std::string_view policy_name = job.unique_policy;
    if (policy_name.empty() && task) policy_name = task->on_duplicate;
    KeyPolicy policy = key_policy_from_string(policy_name).value_or(KeyPolicy::parallel);
    std::uint32_t concurrency = job.key_concurrency;
    if (concurrency == 0 && task) concurrency = task->key_concurrency;
    // A parallel key without a limit asks for nothing: it neither deduplicates nor throttles.
    if (!key.empty() && (policy != KeyPolicy::parallel || concurrency > 0)) {
        locks.push_back({std::string(kKeyPrefix) + effective_key(key, job.task, job.args), policy,
                         std::max<std::uint32_t>(concurrency, 1)});
    }
    if (auto queue = config.queue_settings.find(job.queue);
        queue != config.queue_settings.end() && queue->second.cluster_concurrency > 0) {
        locks.push_back({std::string(kQueuePrefix) + job.queue, KeyPolicy::parallel, queue->second.cluster_concurrency});
    }
    return locks;
}

std::string lock_label(std::string_view lock_name) {
    if (lock_name.starts_with(kKeyPrefix)) return "key " + std::string(lock_name.substr(kKeyPrefix.size()));
    if (lock_name.starts_with(kQueuePrefix)) return "queue " + std::string(lock_name.substr(kQueuePrefix.size()));
    return std::string(lock_name);
}

}  // namespace zq::node
