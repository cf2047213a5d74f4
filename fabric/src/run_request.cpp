#include "run_request.hpp"

#include <zq/worker_link.hpp>

#include <string_view>

namespace zq {
namespace {

// A field of a msgpack map; nullptr when absent or nil.
const msgpack::object* find_field(const msgpack::object& map, std::string_view key) {
    for (std::uint32_t i = 0; i < map.via.map.size; ++i) {
        const auto& entry = map.via.map.ptr[i];
        if (entry.key.type == msgpack::type::STR &&
            std::string_view(entry.key.via.str.ptr, entry.key.via.str.size) == key) {
            return entry.val.type == msgpack::type::NIL ? nullptr : &entry.val;
        }
    }
    return nullptr;
}

std::optional<std::string> string_field(const msgpack::object& map, std::string_view key) {
    const msgpack::object* value = find_field(map, key);
    if (!value || value->type != msgpack::type::STR) return std::nullopt;
    return std::string(value->via.str.ptr, value->via.str.size);
}

msgpack::object empty_container(msgpack::type::object_type type) {
    msgpack::object empty;
    empty.type = type;
    if (type == msgpack::type::ARRAY) empty.via.array = {0, nullptr};
    else empty.via.map = {0, nullptr};
    return empty;
}

}  // namespace

Result<RunRequest> parse_run(const msgpack::object& body, std::string id) {
    RunRequest request;
    request.id = std::move(id);
    auto task = string_field(body, worker_link::field::task);
    if (!task) return Error{"field 'task' must be a string"};
    request.task = std::move(*task);

    const msgpack::object* args = find_field(body, worker_link::field::args);
    if (args && args->type != msgpack::type::ARRAY) return Error{"field 'args' must be an array"};
    request.args = args ? *args : empty_container(msgpack::type::ARRAY);
    const msgpack::object* kwargs = find_field(body, worker_link::field::kwargs);
    if (kwargs && kwargs->type != msgpack::type::MAP) return Error{"field 'kw' must be a map"};
    request.kwargs = kwargs ? *kwargs : empty_container(msgpack::type::MAP);

    if (const msgpack::object* exec = find_field(body, worker_link::field::exec)) {
        if (exec->type != msgpack::type::ARRAY || exec->via.array.size == 0) {
            return Error{"field 'exec' must be a non-empty array of strings"};
        }
        std::vector<std::string> command;
        for (std::uint32_t i = 0; i < exec->via.array.size; ++i) {
            const msgpack::object& entry = exec->via.array.ptr[i];
            if (entry.type != msgpack::type::STR) return Error{"field 'exec' must be a non-empty array of strings"};
            command.emplace_back(entry.via.str.ptr, entry.via.str.size);
        }
        request.exec = std::move(command);
    }
    if (const msgpack::object* limit = find_field(body, worker_link::field::output_limit)) {
        if (limit->type != msgpack::type::POSITIVE_INTEGER) return Error{"field 'olim' must be an unsigned integer"};
        request.output_limit = static_cast<std::size_t>(limit->via.u64);
    }
    if (const msgpack::object* code = find_field(body, worker_link::field::retry_exit_code)) {
        if (code->type != msgpack::type::POSITIVE_INTEGER || code->via.u64 > 255) {
            return Error{"field 'rexit' must be an exit status (0-255)"};
        }
        request.retry_exit_code = static_cast<int>(code->via.u64);
    }
    return request;
}

}  // namespace zq
