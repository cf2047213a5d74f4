#include <zq/task.hpp>

#include <algorithm>
#include <array>
#include <span>
#include <vector>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <random>

namespace zq {

namespace f = protocol::field;

namespace {

// The envelope fields a Task holds as members; write_task() and read_task() map them.
constexpr std::string_view kMemberFields[] = {
    f::id,          f::task,          f::args,        f::kwargs,          f::queue,
    f::target,      f::priority,      f::eta,         f::expires,         f::max_retries,
    f::retry_delay, f::retry_backoff, f::retry_backoff_max, f::retry_jitter, f::retry_on_worker_lost,
    f::soft_time_limit, f::hard_time_limit, f::headers, f::unique_key, f::unique_policy, f::key_concurrency,
    f::weight,          f::exclusive,
};
// The heaviest weight a job may ask for; more is read as this many (no node has that many units).
constexpr std::uint64_t kMaxWeight = 1'000'000;
// The longest time an envelope may give in seconds (a retry delay, a time limit): 366 days.
constexpr double kMaxSeconds = 366.0 * 24 * 3600;
// Fields of the same bodies that belong to the message, not to the task.
constexpr std::string_view kMessageFields[] = {f::watch, f::node};

bool listed(std::span<const std::string_view> fields, std::string_view key) {
    return std::find(fields.begin(), fields.end(), key) != fields.end();
}

bool in_envelope(std::string_view key) {
    return std::any_of(std::begin(protocol::detail::kEnvelope), std::end(protocol::detail::kEnvelope),
                       [key](const protocol::FieldSpec& spec) { return spec.name == key; });
}

// The envelope fields of `message` that a Task does not hold as members, packed as a map.
std::string carried_fields(const Message& message) {
    const msgpack::object& body = message.body();
    std::vector<const msgpack::object_kv*> entries;
    for (std::uint32_t i = 0; i < body.via.map.size; ++i) {
        const auto& entry = body.via.map.ptr[i];
        if (entry.key.type != msgpack::type::STR || entry.val.type == msgpack::type::NIL) continue;
        std::string_view key(entry.key.via.str.ptr, entry.key.via.str.size);
        if (in_envelope(key) && !is_task_member(key) && !listed(kMessageFields, key)) entries.push_back(&entry);
    }
    if (entries.empty()) return {};
    msgpack::sbuffer buffer;
    msgpack::packer<msgpack::sbuffer> packer(buffer);
    packer.pack_map(static_cast<std::uint32_t>(entries.size()));
    for (const auto* entry : entries) {
        packer.pack(entry->key);
        packer.pack(entry->val);
    }
    return std::string(buffer.data(), buffer.size());
}

// Writes the carried fields (a packed map, as in Task::carried) into a body.
void write_carried(BodyWriter& body, std::string_view carried) {
    if (carried.empty()) return;
    auto unpacked = msgpack::unpack(carried.data(), carried.size());
    const msgpack::object& map = unpacked.get();
    if (map.type != msgpack::type::MAP) return;
    for (std::uint32_t i = 0; i < map.via.map.size; ++i) {
        const auto& entry = map.via.map.ptr[i];
        if (entry.key.type != msgpack::type::STR) continue;
        msgpack::sbuffer value;
        msgpack::pack(value, entry.val);
        body.add_packed(std::string_view(entry.key.via.str.ptr, entry.key.via.str.size),
                        std::string_view(value.data(), value.size()));
    }
}

// Times beyond the year 9999 are held there, so that later sums cannot overflow.
std::int64_t clamp_unix_ms(std::uint64_t ms) {
    constexpr std::uint64_t kLatestUnixMs = 253402300799999ULL;
    return static_cast<std::int64_t>(std::min(ms, kLatestUnixMs));
}

// A time in seconds (a delay, a time limit) is a finite number from 0 to kMaxSeconds. Anything
// else is refused rather than guessed at: an infinite hard limit read as 0 s, or a NaN delay
// read as none, would kill or retry a job at once.
Status read_seconds(const Message& message, std::string_view field, double& seconds) {
    auto value = message.number(field);
    if (!value) return success();
    if (!std::isfinite(*value) || *value < 0 || *value > kMaxSeconds) {
        char shown[32];
        std::snprintf(shown, sizeof shown, "%g", *value);
        return Error{"field '" + std::string(field) + "' must be a finite number of seconds from 0 to " +
                         std::to_string(static_cast<std::uint64_t>(kMaxSeconds)) + ", got " + shown,
                     ErrorCode::bad_input};
    }
    seconds = *value;
    return success();
}

}  // namespace

bool is_task_member(std::string_view key) { return listed(kMemberFields, key); }

void write_task(BodyWriter& body, const Task& task) {
    body.add(f::id, task.id).add(f::task, task.name).add_packed(f::args, task.args);
    // Defaults are left out: most tasks carry only id, name and args.
    if (task.kwargs.size() > 1) body.add_packed(f::kwargs, task.kwargs);
    if (task.queue != "default") body.add(f::queue, task.queue);
    if (!task.target.empty()) body.add(f::target, task.target);
    if (task.priority != 0) body.add(f::priority, task.priority);
    if (task.eta_ms > 0) body.add(f::eta, static_cast<std::uint64_t>(task.eta_ms));
    if (task.expires_ms > 0) body.add(f::expires, static_cast<std::uint64_t>(task.expires_ms));
    if (task.max_retries != 0) body.add(f::max_retries, static_cast<std::uint64_t>(task.max_retries));
    if (task.retry_delay > 0) body.add(f::retry_delay, task.retry_delay);
    if (task.retry_backoff > 0) body.add(f::retry_backoff, task.retry_backoff);
    if (task.retry_backoff_max > 0) body.add(f::retry_backoff_max, task.retry_backoff_max);
    if (task.retry_jitter) body.add(f::retry_jitter, true);
    if (task.retry_on_worker_lost) body.add(f::retry_on_worker_lost, true);
    if (task.soft_time_limit > 0) body.add(f::soft_time_limit, task.soft_time_limit);
    if (task.hard_time_limit > 0) body.add(f::hard_time_limit, task.hard_time_limit);
    if (!task.headers.empty()) body.add_value(f::headers, task.headers);
    if (!task.unique_key.empty()) body.add(f::unique_key, task.unique_key);
    if (!task.unique_policy.empty()) body.add(f::unique_policy, task.unique_policy);
    if (task.key_concurrency > 0) body.add(f::key_concurrency, static_cast<std::uint64_t>(task.key_concurrency));
    if (task.weight > 0) body.add(f::weight, static_cast<std::uint64_t>(task.weight));
    if (task.exclusive) body.add(f::exclusive, true);
    write_carried(body, task.carried);
}

Result<Task> read_task(const Message& message, const protocol::Limits& limits) {
    Task task;
    task.id = std::string(*message.string(f::id));
    task.name = std::string(*message.string(f::task));
    if (task.id.empty()) return Error{"task id is empty", ErrorCode::bad_input};
    if (task.name.empty()) return Error{"task name is empty", ErrorCode::bad_input};
    if (auto args = message.packed(f::args)) task.args = std::move(*args);
    if (auto kwargs = message.packed(f::kwargs)) task.kwargs = std::move(*kwargs);
    if (auto queue = message.string(f::queue)) task.queue = std::string(*queue);
    if (task.queue.empty()) return Error{"queue name is empty", ErrorCode::bad_input};
    if (auto target = message.string(f::target)) task.target = std::string(*target);
    if (auto priority = message.integer(f::priority)) task.priority = *priority;
    if (auto retries = message.unsigned_integer(f::max_retries)) {
        task.max_retries = static_cast<std::uint32_t>(std::min<std::uint64_t>(*retries, kMaxRetries));
    }
    if (auto eta = message.unsigned_integer(f::eta)) task.eta_ms = clamp_unix_ms(*eta);
    if (auto expires = message.unsigned_integer(f::expires)) task.expires_ms = clamp_unix_ms(*expires);
    for (auto [field, seconds] : {std::pair{f::retry_delay, &task.retry_delay},
                                  std::pair{f::retry_backoff, &task.retry_backoff},
                                  std::pair{f::retry_backoff_max, &task.retry_backoff_max},
                                  std::pair{f::soft_time_limit, &task.soft_time_limit},
                                  std::pair{f::hard_time_limit, &task.hard_time_limit}}) {
        if (Status read = read_seconds(message, field, *seconds); !read) return Error{read.error(), ErrorCode::bad_input};
    }
    task.retry_jitter = message.boolean(f::retry_jitter).value_or(false);
    task.retry_on_worker_lost = message.boolean(f::retry_on_worker_lost).value_or(false);
    if (const msgpack::object* headers = message.find(f::headers)) {
        for (std::uint32_t i = 0; i < headers->via.map.size; ++i) {
            const auto& entry = headers->via.map.ptr[i];
            if (entry.key.type != msgpack::type::STR || entry.val.type != msgpack::type::STR) {
                return Error{"headers must map strings to strings", ErrorCode::bad_input};
            }
            task.headers.emplace(entry.key.as<std::string>(), entry.val.as<std::string>());
        }
    }
    if (auto key = message.string(f::unique_key)) {
        if (key->size() > limits.max_string_bytes / 8) return Error{"ukey is too long", ErrorCode::bad_input};
        task.unique_key = std::string(*key);
    }
    if (auto policy = message.string(f::unique_policy)) {
        task.unique_policy = std::string(*policy);
        if (policy->empty() || (*policy != "parallel" && *policy != "discard" && *policy != "serial" &&
                                *policy != "queue_one")) {
            return Error{"upol '" + task.unique_policy + "' is not parallel, discard, serial or queue_one",
                         ErrorCode::bad_input};
        }
    }
    if (auto concurrency = message.unsigned_integer(f::key_concurrency)) {
        task.key_concurrency = static_cast<std::uint32_t>(std::min<std::uint64_t>(*concurrency, UINT32_MAX));
    }
    if (auto weight = message.unsigned_integer(f::weight)) {
        task.weight = static_cast<std::uint32_t>(std::min<std::uint64_t>(*weight, kMaxWeight));
    }
    task.exclusive = message.boolean(f::exclusive).value_or(false);
    (void)limits;
    task.carried = carried_fields(message);
    return task;
}

std::string new_job_id() {
    // UUIDv7: 48 bits of unix milliseconds, version 7, 74 random bits with the RFC 4122
    // variant. Ids made this way sort by creation time, which keeps the journal's primary key
    // index append-mostly.
    thread_local std::mt19937_64 random{std::random_device{}()};
    auto now = std::chrono::system_clock::now().time_since_epoch();
    auto ms = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(now).count());
    std::uint64_t high = (ms << 16) | 0x7000 | (random() & 0x0fff);
    std::uint64_t low = (random() & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
    std::array<char, 37> text{};
    std::snprintf(text.data(), text.size(), "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(high >> 32),
                  static_cast<unsigned>((high >> 16) & 0xffff), static_cast<unsigned>(high & 0xffff),
                  static_cast<unsigned>(low >> 48), static_cast<unsigned long long>(low & 0xffffffffffffULL));
    return std::string(text.data(), 36);
}

}  // namespace zq
