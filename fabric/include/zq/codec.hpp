// The ZQP/1 codec: turns frames into a validated Message and builds message bodies.
//
// Decoding is bounded by protocol::Limits (size, nesting depth, string/array/map sizes) and
// checks the body against the command's field table in protocol.hpp, so that code reading a
// Message may trust the types of the fields it finds. Every refusal is a Result error whose
// text says what was wrong; nothing here throws past its interface.
#pragma once

#include <zq/protocol.hpp>
#include <zq/result.hpp>

#include <msgpack.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace zq {

// Typed access to the fields of a msgpack map (a message body, a worker-link frame). It
// keeps a copy of the map object, which points into memory owned by an object_handle that
// must outlive the reader.
class FieldReader {
public:
    explicit FieldReader(const msgpack::object& map) : map_(map) {}

    const msgpack::object& body() const { return map_; }
    // The field's value, or nullptr when absent (or nil).
    const msgpack::object* find(std::string_view key) const;
    std::optional<std::string_view> string(std::string_view key) const;
    std::optional<std::uint64_t> unsigned_integer(std::string_view key) const;
    std::optional<std::int64_t> integer(std::string_view key) const;
    std::optional<double> number(std::string_view key) const;
    std::optional<bool> boolean(std::string_view key) const;
    // The field re-packed as msgpack bytes (for values zq passes through untouched); a nil
    // value is packed nil, only an absent field is nullopt.
    std::optional<std::string> packed(std::string_view key) const;

private:
    msgpack::object map_;
};

// A decoded message: its command and its body, a msgpack map already checked against the
// command's field table.
class Message : public FieldReader {
public:
    Message(protocol::Command command, msgpack::object_handle body)
        : FieldReader(body.get()), command_(command), handle_(std::move(body)) {}

    protocol::Command command() const { return command_; }

private:
    protocol::Command command_;
    msgpack::object_handle handle_;  // owns the memory the body points into
};

// Whether the bytes are well-formed UTF-8 (no overlong forms, surrogates or code points
// above U+10FFFF).
bool valid_utf8(std::string_view text);
// The text with each byte that starts no well-formed sequence replaced by U+FFFD (for text a
// node passes on but did not write: a command's output, a worker's error).
std::string repaired_utf8(std::string_view text);
// Msgpack bytes with every str that is not valid UTF-8 turned into a bin of the same bytes
// (for values a node passes on but did not make: a task's result). Unchanged when all its
// strings are UTF-8, or when it does not unpack.
std::string text_checked(std::string_view packed);

// Decodes the three ZQP frames (identity frames already removed). Besides the field table and
// the limits it refuses nil in a typed field and any string (key or value, at any depth) that
// is not valid UTF-8.
Result<Message> decode(std::string_view header, std::string_view command, std::string_view body,
                       const protocol::Limits& limits = {});

// Unpacks msgpack bytes with the same bounds (for worker-link frames and stored blobs).
Result<msgpack::object_handle> unpack_bounded(std::string_view bytes, const protocol::Limits& limits = {});

// Builds a msgpack map body field by field, without knowing the count in advance: the map
// header is reserved as a map32 and patched by finish().
class BodyWriter {
public:
    BodyWriter();

    BodyWriter& add(std::string_view key, std::string_view value);
    BodyWriter& add(std::string_view key, const char* value) { return add(key, std::string_view(value)); }
    BodyWriter& add(std::string_view key, const std::string& value) { return add(key, std::string_view(value)); }
    BodyWriter& add(std::string_view key, std::uint64_t value);
    BodyWriter& add(std::string_view key, std::int64_t value);
    BodyWriter& add(std::string_view key, int value) { return add(key, static_cast<std::int64_t>(value)); }
    BodyWriter& add(std::string_view key, unsigned value) { return add(key, static_cast<std::uint64_t>(value)); }
    BodyWriter& add(std::string_view key, double value);
    BodyWriter& add(std::string_view key, bool value);
    // A value that is already msgpack bytes, copied in as is.
    BodyWriter& add_packed(std::string_view key, std::string_view packed);
    // Any value msgpack-c knows how to pack.
    template <class T>
    BodyWriter& add_value(std::string_view key, const T& value) {
        key_(key);
        packer_.pack(value);
        return *this;
    }
    // Writes the key and hands out the packer for one value the caller packs itself.
    msgpack::packer<msgpack::sbuffer>& begin(std::string_view key) {
        key_(key);
        return packer_;
    }

    // Patches the entry count and returns the body bytes (valid while the writer lives).
    std::string_view finish();

private:
    void key_(std::string_view key);

    msgpack::sbuffer buffer_;
    msgpack::packer<msgpack::sbuffer> packer_;
    std::uint32_t entries_ = 0;
};

// Packs any value msgpack-c knows into bytes.
template <class T>
std::string pack(const T& value) {
    msgpack::sbuffer buffer;
    msgpack::pack(buffer, value);
    return std::string(buffer.data(), buffer.size());
}

}  // namespace zq
