// Conversions between msgpack and JSON for the tools: arguments typed on a command line
// become msgpack, results and status replies become JSON.
//
// msgpack → JSON: nil → null, booleans, integers (signed and unsigned 64-bit), floats, str →
// string (invalid UTF-8 replaced by U+FFFD so that the JSON can always be printed), bin → the
// string itself when it is valid UTF-8 (task output is usually text) and "base64:<data>"
// otherwise, arrays, maps → objects (a key that is not a string is written as its JSON text,
// so 1 → "1"; when two keys collide the last one wins), ext → {"ext": type, "base64": data}.
// JSON → msgpack: null → nil, booleans, integers, floats, strings → str, binary → bin,
// arrays, objects → maps with string keys.
#pragma once

#include <zq/job.hpp>

#include <msgpack.hpp>
#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

namespace zq {

nlohmann::json to_json(const msgpack::object& object);
// msgpack bytes → JSON (null for empty bytes or bytes that do not unpack).
nlohmann::json packed_to_json(std::string_view packed);
void pack_json(msgpack::packer<msgpack::sbuffer>& packer, const nlohmann::json& value);
std::string pack_json(const nlohmann::json& value);
// {id, task, state, result, error, node}; result and error are null when the job has none.
nlohmann::json to_json(const JobInfo& job);

// A command-line argument: the JSON value it parses as, else the string itself.
// "3" → 3, "true" → true, "[1,2]" → [1,2], "\"3\"" → "3", "hello" → "hello", "" → "".
nlohmann::json parse_cli_argument(std::string_view text);

// JSON text that never throws: invalid UTF-8 (which to_json never produces) is replaced.
std::string dump_json(const nlohmann::json& value, int indent = -1);

}  // namespace zq
