// Framing of the worker link: a 4-byte big-endian length, then that many bytes of msgpack.
#include <zq/worker_link.hpp>

namespace zq::worker_link {

namespace {

constexpr std::size_t kLengthBytes = 4;

std::uint32_t read_length(const char* bytes) {
    const auto* b = reinterpret_cast<const unsigned char*>(bytes);
    return (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) | (std::uint32_t{b[2]} << 8) |
           std::uint32_t{b[3]};
}

}  // namespace

std::string frame(BodyWriter& body) {
    const std::string_view bytes = body.finish();
    const auto length = static_cast<std::uint32_t>(bytes.size());
    std::string framed;
    framed.reserve(kLengthBytes + bytes.size());
    framed.push_back(static_cast<char>((length >> 24) & 0xff));
    framed.push_back(static_cast<char>((length >> 16) & 0xff));
    framed.push_back(static_cast<char>((length >> 8) & 0xff));
    framed.push_back(static_cast<char>(length & 0xff));
    framed.append(bytes);
    return framed;
}

void FrameReader::feed(const char* data, std::size_t size) {
    // Frames already handed out are dropped here, not in next(): the views next() returned
    // stay valid until the caller feeds more bytes.
    if (consumed_ > 0) {
        buffer_.erase(0, consumed_);
        consumed_ = 0;
    }
    buffer_.append(data, size);
}

Result<std::string_view> FrameReader::next() {
    const std::size_t available = buffer_.size() - consumed_;
    if (available < kLengthBytes) return std::string_view{};
    const std::uint32_t length = read_length(buffer_.data() + consumed_);
    // Refused as soon as the length is known, so a corrupt stream is not buffered first.
    if (length > kMaxFrameBytes) {
        return Error{"worker link frame of " + std::to_string(length) + " bytes exceeds the limit of " +
                     std::to_string(kMaxFrameBytes) + " bytes: the stream is corrupt"};
    }
    // Every frame holds a msgpack map, so a frame is never empty; refusing empty frames
    // keeps an empty view meaning "nothing complete yet" and nothing else.
    if (length == 0) return Error{"empty worker link frame: the stream is corrupt"};
    if (available - kLengthBytes < length) return std::string_view{};
    const std::string_view body(buffer_.data() + consumed_ + kLengthBytes, length);
    consumed_ += kLengthBytes + length;
    return body;
}

}  // namespace zq::worker_link
