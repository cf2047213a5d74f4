#include <zq/task.hpp>

#include <array>
#include <chrono>
#include <cstdio>
#include <random>

namespace zq {

namespace f = protocol::field;

void write_task(BodyWriter& body, const Task& task) {
    body.add(f::id, task.id).add(f::task, task.name).add_packed(f::args, task.args);
    // Defaults are left out: most tasks carry only id, name and args.
    if (task.kwargs.size() > 1) body.add_packed(f::kwargs, task.kwargs);
    if (task.queue != "default") body.add(f::queue, task.queue);
    if (!task.target.empty()) body.add(f::target, task.target);
    if (task.priority != 0) body.add(f::priority, task.priority);
    if (task.max_retries != 0) body.add(f::max_retries, static_cast<std::uint64_t>(task.max_retries));
    if (task.retry_delay > 0) body.add(f::retry_delay, task.retry_delay);
    if (task.soft_time_limit > 0) body.add(f::soft_time_limit, task.soft_time_limit);
    if (task.hard_time_limit > 0) body.add(f::hard_time_limit, task.hard_time_limit);
    if (!task.headers.empty()) body.add_value(f::headers, task.headers);
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
        task.max_retries = static_cast<std::uint32_t>(std::min<std::uint64_t>(*retries, 1000));
    }
    if (auto delay = message.number(f::retry_delay)) task.retry_delay = std::max(0.0, *delay);
    if (auto soft = message.number(f::soft_time_limit)) task.soft_time_limit = std::max(0.0, *soft);
    if (auto hard = message.number(f::hard_time_limit)) task.hard_time_limit = std::max(0.0, *hard);
    if (const msgpack::object* headers = message.find(f::headers)) {
        for (std::uint32_t i = 0; i < headers->via.map.size; ++i) {
            const auto& entry = headers->via.map.ptr[i];
            if (entry.key.type != msgpack::type::STR || entry.val.type != msgpack::type::STR) {
                return Error{"headers must map strings to strings", ErrorCode::bad_input};
            }
            task.headers.emplace(entry.key.as<std::string>(), entry.val.as<std::string>());
        }
    }
    (void)limits;
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
