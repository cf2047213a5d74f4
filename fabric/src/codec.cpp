#include <zq/codec.hpp>

#include <algorithm>
#include <cstring>
#include <string>

namespace zq {
namespace {

using protocol::FieldType;

bool has_type(const msgpack::object& value, FieldType type) {
    switch (type) {
        case FieldType::string: return value.type == msgpack::type::STR;
        case FieldType::unsigned_integer: return value.type == msgpack::type::POSITIVE_INTEGER;
        case FieldType::integer:
            return value.type == msgpack::type::POSITIVE_INTEGER || value.type == msgpack::type::NEGATIVE_INTEGER;
        case FieldType::number:
            return value.type == msgpack::type::POSITIVE_INTEGER ||
                   value.type == msgpack::type::NEGATIVE_INTEGER || value.type == msgpack::type::FLOAT32 ||
                   value.type == msgpack::type::FLOAT64;
        case FieldType::boolean: return value.type == msgpack::type::BOOLEAN;
        case FieldType::array: return value.type == msgpack::type::ARRAY;
        case FieldType::map: return value.type == msgpack::type::MAP;
        case FieldType::any: return true;
    }
    return false;
}

std::string_view view_of(const msgpack::object& value) { return {value.via.str.ptr, value.via.str.size}; }

// The entry's value as it is, nil included; nullptr when the key is absent.
const msgpack::object* find_entry(const msgpack::object& map, std::string_view key) {
    for (std::uint32_t i = 0; i < map.via.map.size; ++i) {
        const auto& entry = map.via.map.ptr[i];
        if (entry.key.type == msgpack::type::STR && view_of(entry.key) == key) return &entry.val;
    }
    return nullptr;
}

const msgpack::object* find_in_map(const msgpack::object& map, std::string_view key) {
    const msgpack::object* value = find_entry(map, key);
    return value && value->type == msgpack::type::NIL ? nullptr : value;
}

// Every msgpack str, key or value, at any depth, must be valid UTF-8 (the msgpack spec says
// so, and strict decoders in other languages refuse anything else); bytes travel as bin. The
// recursion is bounded by the decoder's depth limit.
bool strings_are_utf8(const msgpack::object& value) {
    switch (value.type) {
        case msgpack::type::STR: return valid_utf8(view_of(value));
        case msgpack::type::ARRAY:
            for (std::uint32_t i = 0; i < value.via.array.size; ++i) {
                if (!strings_are_utf8(value.via.array.ptr[i])) return false;
            }
            return true;
        case msgpack::type::MAP:
            for (std::uint32_t i = 0; i < value.via.map.size; ++i) {
                const auto& entry = value.via.map.ptr[i];
                if (!strings_are_utf8(entry.key) || !strings_are_utf8(entry.val)) return false;
            }
            return true;
        default: return true;
    }
}

// The first key of the body whose entry holds a string that is not UTF-8 ("" for none).
std::string first_non_utf8_field(const msgpack::object& body) {
    for (std::uint32_t i = 0; i < body.via.map.size; ++i) {
        const auto& entry = body.via.map.ptr[i];
        if (!strings_are_utf8(entry.key)) return "(a key)";
        // A key that is not a string has no text to name it by (and no str to view).
        if (!strings_are_utf8(entry.val)) {
            return entry.key.type == msgpack::type::STR ? std::string(view_of(entry.key)) : "(a key that is not a string)";
        }
    }
    return {};
}

// Checks the body against the command's field table: required fields present, every known
// field of the right type, names (string fields) within the name bound. Unknown fields are
// ignored so that newer peers can add fields.
Status validate_fields(const protocol::CommandSpec& spec, const msgpack::object& body,
                       const protocol::Limits& limits) {
    for (const auto& field : spec.fields) {
        const msgpack::object* value = find_entry(body, field.name);
        // nil is not "absent": a sender that means absent leaves the field out. Only fields
        // that take any value (results, arguments as data) may be nil.
        if (value && value->type == msgpack::type::NIL && field.type != FieldType::any) {
            return Error{std::string(spec.name) + ": field '" + std::string(field.name) + "' must be " +
                         std::string(protocol::field_type_name(field.type)) +
                         ", got nil (leave an optional field out instead)"};
        }
        if (!value) {
            if (field.required) {
                return Error{std::string(spec.name) + ": missing field '" + std::string(field.name) + "'"};
            }
            continue;
        }
        if (!has_type(*value, field.type)) {
            return Error{std::string(spec.name) + ": field '" + std::string(field.name) + "' must be " +
                         std::string(protocol::field_type_name(field.type))};
        }
        // Fields that name things (ids, tasks, queues, nodes) are short; free text and values
        // such as error messages and results are bounded by the string limit instead.
        bool is_name = field.name == protocol::field::id || field.name == protocol::field::task ||
                       field.name == protocol::field::queue || field.name == protocol::field::target ||
                       field.name == protocol::field::node;
        if (is_name && value->via.str.size > limits.max_name_bytes) {
            return Error{std::string(spec.name) + ": field '" + std::string(field.name) + "' is longer than " +
                         std::to_string(limits.max_name_bytes) + " bytes"};
        }
    }
    return success();
}

// The length of the well-formed UTF-8 sequence at `at`, or 0 when there is none. The
// well-formed sequences are those of Unicode's table 3-7: no overlong forms, no surrogates,
// nothing above U+10FFFF.
std::size_t utf8_sequence_length(const unsigned char* bytes, std::size_t size, std::size_t at) {
    const unsigned char lead = bytes[at];
    if (lead < 0x80) return 1;
    std::size_t length = 0;
    unsigned char low = 0x80, high = 0xbf;
    if (lead >= 0xc2 && lead <= 0xdf) {
        length = 2;
    } else if (lead >= 0xe0 && lead <= 0xef) {
        length = 3;
        if (lead == 0xe0) low = 0xa0;
        if (lead == 0xed) high = 0x9f;
    } else if (lead >= 0xf0 && lead <= 0xf4) {
        length = 4;
        if (lead == 0xf0) low = 0x90;
        if (lead == 0xf4) high = 0x8f;
    } else {
        return 0;
    }
    if (size - at < length) return 0;
    if (bytes[at + 1] < low || bytes[at + 1] > high) return 0;
    for (std::size_t k = 2; k < length; ++k) {
        if (bytes[at + k] < 0x80 || bytes[at + k] > 0xbf) return 0;
    }
    return length;
}

}  // namespace

bool valid_utf8(std::string_view text) {
    const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());
    for (std::size_t i = 0; i < text.size();) {
        const std::size_t length = utf8_sequence_length(bytes, text.size(), i);
        if (length == 0) return false;
        i += length;
    }
    return true;
}

std::string repaired_utf8(std::string_view text) {
    if (valid_utf8(text)) return std::string(text);
    constexpr std::string_view kReplacement = "\xef\xbf\xbd";  // U+FFFD
    const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());
    std::string repaired;
    repaired.reserve(text.size() + 16);
    for (std::size_t i = 0; i < text.size();) {
        const std::size_t length = utf8_sequence_length(bytes, text.size(), i);
        if (length == 0) {
            repaired += kReplacement;
            ++i;
        } else {
            repaired.append(text.substr(i, length));
            i += length;
        }
    }
    return repaired;
}

namespace {

// Packs `value` as it is, except that a str that is not UTF-8 is packed as bin (same bytes).
void pack_with_text_checked(msgpack::packer<msgpack::sbuffer>& packer, const msgpack::object& value) {
    switch (value.type) {
        case msgpack::type::STR:
            if (valid_utf8(view_of(value))) {
                packer.pack(value);
            } else {
                packer.pack_bin(value.via.str.size);
                packer.pack_bin_body(value.via.str.ptr, value.via.str.size);
            }
            return;
        case msgpack::type::ARRAY:
            packer.pack_array(value.via.array.size);
            for (std::uint32_t i = 0; i < value.via.array.size; ++i) pack_with_text_checked(packer, value.via.array.ptr[i]);
            return;
        case msgpack::type::MAP:
            packer.pack_map(value.via.map.size);
            for (std::uint32_t i = 0; i < value.via.map.size; ++i) {
                pack_with_text_checked(packer, value.via.map.ptr[i].key);
                pack_with_text_checked(packer, value.via.map.ptr[i].val);
            }
            return;
        default: packer.pack(value); return;
    }
}

}  // namespace

std::string text_checked(std::string_view packed) {
    protocol::Limits limits;
    limits.max_message_bytes = std::max(limits.max_message_bytes, packed.size());
    auto unpacked = unpack_bounded(packed, limits);
    if (!unpacked || strings_are_utf8(unpacked->get())) return std::string(packed);
    msgpack::sbuffer buffer;
    msgpack::packer<msgpack::sbuffer> packer(buffer);
    pack_with_text_checked(packer, unpacked->get());
    return std::string(buffer.data(), buffer.size());
}

const msgpack::object* FieldReader::find(std::string_view key) const {
    if (map_.type != msgpack::type::MAP) return nullptr;
    return find_in_map(map_, key);
}

std::optional<std::string_view> FieldReader::string(std::string_view key) const {
    const msgpack::object* value = find(key);
    if (!value || value->type != msgpack::type::STR) return std::nullopt;
    return view_of(*value);
}

std::optional<std::uint64_t> FieldReader::unsigned_integer(std::string_view key) const {
    const msgpack::object* value = find(key);
    if (!value || value->type != msgpack::type::POSITIVE_INTEGER) return std::nullopt;
    return value->via.u64;
}

std::optional<std::int64_t> FieldReader::integer(std::string_view key) const {
    const msgpack::object* value = find(key);
    if (!value) return std::nullopt;
    if (value->type == msgpack::type::NEGATIVE_INTEGER) return value->via.i64;
    if (value->type == msgpack::type::POSITIVE_INTEGER && value->via.u64 <= INT64_MAX) {
        return static_cast<std::int64_t>(value->via.u64);
    }
    return std::nullopt;
}

std::optional<double> FieldReader::number(std::string_view key) const {
    const msgpack::object* value = find(key);
    if (!value) return std::nullopt;
    switch (value->type) {
        case msgpack::type::FLOAT32:
        case msgpack::type::FLOAT64: return value->via.f64;
        case msgpack::type::POSITIVE_INTEGER: return static_cast<double>(value->via.u64);
        case msgpack::type::NEGATIVE_INTEGER: return static_cast<double>(value->via.i64);
        default: return std::nullopt;
    }
}

std::optional<bool> FieldReader::boolean(std::string_view key) const {
    const msgpack::object* value = find(key);
    if (!value || value->type != msgpack::type::BOOLEAN) return std::nullopt;
    return value->via.boolean;
}

std::optional<std::string> FieldReader::packed(std::string_view key) const {
    // A nil value is a value here (a task that returned null): only an absent key is nullopt.
    if (map_.type != msgpack::type::MAP) return std::nullopt;
    const msgpack::object* value = find_entry(map_, key);
    if (!value) return std::nullopt;
    msgpack::sbuffer buffer;
    msgpack::pack(buffer, *value);
    return std::string(buffer.data(), buffer.size());
}

Result<msgpack::object_handle> unpack_bounded(std::string_view bytes, const protocol::Limits& limits) {
    if (bytes.size() > limits.max_message_bytes) {
        return Error{"message of " + std::to_string(bytes.size()) + " bytes exceeds the limit of " +
                     std::to_string(limits.max_message_bytes)};
    }
    msgpack::unpack_limit bounds(limits.max_array_items, limits.max_map_entries, limits.max_string_bytes,
                                 limits.max_string_bytes, limits.max_string_bytes, limits.max_depth);
    try {
        std::size_t offset = 0;
        msgpack::object_handle handle =
            msgpack::unpack(bytes.data(), bytes.size(), offset, nullptr, nullptr, bounds);
        if (offset != bytes.size()) {
            return Error{"trailing bytes after the msgpack body"};
        }
        return handle;
    } catch (const msgpack::depth_size_overflow&) {
        return Error{"msgpack nesting deeper than " + std::to_string(limits.max_depth)};
    } catch (const msgpack::size_overflow& error) {
        return Error{std::string("msgpack value too large: ") + error.what()};
    } catch (const std::exception& error) {
        return Error{std::string("malformed msgpack: ") + error.what()};
    }
}

Result<Message> decode(std::string_view header, std::string_view command, std::string_view body,
                       const protocol::Limits& limits) {
    if (header != protocol::kHeader) {
        return Error{"wrong protocol header (expected ZQP1)"};
    }
    if (command.size() != 1) {
        return Error{"command frame must be one byte, got " + std::to_string(command.size())};
    }
    const protocol::CommandSpec* spec = protocol::find_command(static_cast<std::uint8_t>(command[0]));
    if (!spec) {
        return Error{"unknown command 0x" + std::to_string(static_cast<unsigned char>(command[0]))};
    }
    auto unpacked = unpack_bounded(body, limits);
    if (!unpacked) return Error{std::string(spec->name) + ": " + unpacked.error()};
    if (unpacked->get().type != msgpack::type::MAP) {
        return Error{std::string(spec->name) + ": body must be a msgpack map"};
    }
    if (auto valid = validate_fields(*spec, unpacked->get(), limits); !valid) {
        return Error{valid.error()};
    }
    if (std::string field = first_non_utf8_field(unpacked->get()); !field.empty()) {
        return Error{std::string(spec->name) + ": field '" + field +
                     "' holds a string that is not valid UTF-8 (send bytes as msgpack bin)"};
    }
    return Message(spec->command, std::move(*unpacked));
}

namespace {
// A map32 header: 0xdf and a 4-byte big-endian count, patched by finish().
constexpr std::size_t kMapHeaderBytes = 5;
}  // namespace

BodyWriter::BodyWriter() : buffer_(256), packer_(buffer_) {
    const char placeholder[kMapHeaderBytes] = {'\xdf', 0, 0, 0, 0};
    buffer_.write(placeholder, kMapHeaderBytes);
}

void BodyWriter::key_(std::string_view key) {
    ++entries_;
    packer_.pack_str(static_cast<std::uint32_t>(key.size()));
    packer_.pack_str_body(key.data(), static_cast<std::uint32_t>(key.size()));
}

BodyWriter& BodyWriter::add(std::string_view key, std::string_view value) {
    key_(key);
    packer_.pack_str(static_cast<std::uint32_t>(value.size()));
    packer_.pack_str_body(value.data(), static_cast<std::uint32_t>(value.size()));
    return *this;
}

BodyWriter& BodyWriter::add(std::string_view key, std::uint64_t value) {
    key_(key);
    packer_.pack_uint64(value);
    return *this;
}

BodyWriter& BodyWriter::add(std::string_view key, std::int64_t value) {
    key_(key);
    packer_.pack_int64(value);
    return *this;
}

BodyWriter& BodyWriter::add(std::string_view key, double value) {
    key_(key);
    packer_.pack_double(value);
    return *this;
}

BodyWriter& BodyWriter::add(std::string_view key, bool value) {
    key_(key);
    value ? packer_.pack_true() : packer_.pack_false();
    return *this;
}

BodyWriter& BodyWriter::add_packed(std::string_view key, std::string_view packed) {
    key_(key);
    buffer_.write(packed.data(), packed.size());
    return *this;
}

std::string_view BodyWriter::finish() {
    char* data = buffer_.data();
    data[1] = static_cast<char>((entries_ >> 24) & 0xff);
    data[2] = static_cast<char>((entries_ >> 16) & 0xff);
    data[3] = static_cast<char>((entries_ >> 8) & 0xff);
    data[4] = static_cast<char>(entries_ & 0xff);
    return {buffer_.data(), buffer_.size()};
}

}  // namespace zq
