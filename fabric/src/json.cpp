// msgpack ↔ JSON for the tools (zq-send, zq-bench): see json.hpp for the mapping.
#include <zq/json.hpp>

#include <zq/codec.hpp>
#include <zq/time_text.hpp>

#include <cstdint>
#include <string>

namespace zq {

namespace {

std::string base64(std::string_view bytes) {
    static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string encoded;
    encoded.reserve((bytes.size() + 2) / 3 * 4);
    std::size_t at = 0;
    for (; at + 3 <= bytes.size(); at += 3) {
        const std::uint32_t group = (std::uint32_t(std::uint8_t(bytes[at])) << 16) |
                                    (std::uint32_t(std::uint8_t(bytes[at + 1])) << 8) |
                                    std::uint32_t(std::uint8_t(bytes[at + 2]));
        encoded += kAlphabet[(group >> 18) & 63];
        encoded += kAlphabet[(group >> 12) & 63];
        encoded += kAlphabet[(group >> 6) & 63];
        encoded += kAlphabet[group & 63];
    }
    const std::size_t rest = bytes.size() - at;
    if (rest > 0) {
        std::uint32_t group = std::uint32_t(std::uint8_t(bytes[at])) << 16;
        if (rest == 2) group |= std::uint32_t(std::uint8_t(bytes[at + 1])) << 8;
        encoded += kAlphabet[(group >> 18) & 63];
        encoded += kAlphabet[(group >> 12) & 63];
        encoded += rest == 2 ? kAlphabet[(group >> 6) & 63] : '=';
        encoded += '=';
    }
    return encoded;
}

// A map key as JSON object keys must be: strings as they are, anything else as its JSON text.
std::string key_text(const msgpack::object& key) {
    nlohmann::json converted = to_json(key);
    if (converted.is_string()) return converted.get<std::string>();
    return dump_json(converted);
}

// A time of a job in JSON: RFC 3339 text, or null when it is not set (0).
nlohmann::json time_json(std::int64_t unix_ms) {
    if (unix_ms <= 0) return nullptr;
    return format_rfc3339(unix_ms);
}

}  // namespace

nlohmann::json to_json(const msgpack::object& object) {
    switch (object.type) {
    case msgpack::type::NIL:
        return nullptr;
    case msgpack::type::BOOLEAN:
        return object.via.boolean;
    case msgpack::type::POSITIVE_INTEGER:
        return object.via.u64;
    case msgpack::type::NEGATIVE_INTEGER:
        return object.via.i64;
    case msgpack::type::FLOAT32:
    case msgpack::type::FLOAT64:
        return object.via.f64;
    case msgpack::type::STR:
        return repaired_utf8(std::string_view(object.via.str.ptr, object.via.str.size));
    case msgpack::type::BIN: {
        const std::string_view bytes(object.via.bin.ptr, object.via.bin.size);
        if (valid_utf8(bytes)) return std::string(bytes);
        return "base64:" + base64(bytes);
    }
    case msgpack::type::ARRAY: {
        nlohmann::json array = nlohmann::json::array();
        for (std::uint32_t i = 0; i < object.via.array.size; ++i) array.push_back(to_json(object.via.array.ptr[i]));
        return array;
    }
    case msgpack::type::MAP: {
        nlohmann::json map = nlohmann::json::object();
        for (std::uint32_t i = 0; i < object.via.map.size; ++i) {
            const msgpack::object_kv& entry = object.via.map.ptr[i];
            map[key_text(entry.key)] = to_json(entry.val);
        }
        return map;
    }
    case msgpack::type::EXT:
        return {{"ext", object.via.ext.type()},
                {"base64", base64(std::string_view(object.via.ext.data(), object.via.ext.size))}};
    }
    return nullptr;
}

nlohmann::json packed_to_json(std::string_view packed) {
    if (packed.empty()) return nullptr;
    auto unpacked = unpack_bounded(packed);
    if (!unpacked) return nullptr;
    return to_json(unpacked->get());
}

void pack_json(msgpack::packer<msgpack::sbuffer>& packer, const nlohmann::json& value) {
    using Type = nlohmann::json::value_t;
    switch (value.type()) {
    case Type::null:
    case Type::discarded:
        packer.pack_nil();
        return;
    case Type::boolean:
        packer.pack(value.get<bool>());
        return;
    case Type::number_integer:
        packer.pack(value.get<std::int64_t>());
        return;
    case Type::number_unsigned:
        packer.pack(value.get<std::uint64_t>());
        return;
    case Type::number_float:
        packer.pack_double(value.get<double>());
        return;
    case Type::string: {
        const auto& text = value.get_ref<const std::string&>();
        packer.pack_str(static_cast<std::uint32_t>(text.size()));
        packer.pack_str_body(text.data(), static_cast<std::uint32_t>(text.size()));
        return;
    }
    case Type::binary: {
        const auto& bytes = value.get_binary();
        packer.pack_bin(static_cast<std::uint32_t>(bytes.size()));
        packer.pack_bin_body(reinterpret_cast<const char*>(bytes.data()), static_cast<std::uint32_t>(bytes.size()));
        return;
    }
    case Type::array:
        packer.pack_array(static_cast<std::uint32_t>(value.size()));
        for (const auto& item : value) pack_json(packer, item);
        return;
    case Type::object:
        packer.pack_map(static_cast<std::uint32_t>(value.size()));
        for (const auto& [key, item] : value.items()) {
            packer.pack_str(static_cast<std::uint32_t>(key.size()));
            packer.pack_str_body(key.data(), static_cast<std::uint32_t>(key.size()));
            pack_json(packer, item);
        }
        return;
    }
    packer.pack_nil();
}

std::string pack_json(const nlohmann::json& value) {
    msgpack::sbuffer buffer;
    msgpack::packer<msgpack::sbuffer> packer(buffer);
    pack_json(packer, value);
    return std::string(buffer.data(), buffer.size());
}

nlohmann::json to_json(const JobInfo& job) {
    nlohmann::json object = {
        {"id", repaired_utf8(job.id)},
        {"task", repaired_utf8(job.task)},
        {"state", std::string(to_string(job.state))},
        {"result", packed_to_json(job.result)},
        {"error", job.error.empty() ? nlohmann::json(nullptr) : nlohmann::json(repaired_utf8(job.error))},
        {"node", repaired_utf8(job.node)},
        {"eta", time_json(job.eta_ms)},
        {"expires", time_json(job.expires_ms)},
        {"attempts", job.attempts},
        {"next_attempt", time_json(job.next_attempt_ms)},
    };
    if (!job.workflow.empty()) {
        object["workflow"] = repaired_utf8(job.workflow);
        object["step"] = repaired_utf8(job.step);
    }
    if (!job.steps.empty()) {
        nlohmann::json steps = nlohmann::json::array();
        for (const StepInfo& step : job.steps) {
            steps.push_back({{"id", repaired_utf8(step.id)},
                             {"node", repaired_utf8(step.node)},
                             {"state", std::string(to_string(step.state))},
                             {"step", repaired_utf8(step.step)},
                             {"task", repaired_utf8(step.task)}});
        }
        object["steps"] = std::move(steps);
    }
    return object;
}

nlohmann::json parse_cli_argument(std::string_view text) {
    // parse() without exceptions returns a "discarded" value for text that is not JSON.
    nlohmann::json parsed = nlohmann::json::parse(text.begin(), text.end(), nullptr, false);
    if (parsed.is_discarded()) return std::string(text);
    return parsed;
}

std::string dump_json(const nlohmann::json& value, int indent) {
    return value.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace zq
