#include <zq/wire.hpp>

#include <cstdint>

namespace zq {

bool send_message(zmq::socket_t& socket, protocol::Command command, std::string_view body,
                  std::string_view identity) {
    const auto code = static_cast<std::uint8_t>(command);
    // Each frame is repeated if a signal interrupts it, so that a message is never left half
    // sent (the next message's frames would be appended to it).
    auto send_frame = [&socket](const void* data, std::size_t size, zmq::send_flags flags) {
        return retry_interrupted([&] { return socket.send(zmq::const_buffer(data, size), flags); });
    };
    const auto more = zmq::send_flags::sndmore | zmq::send_flags::dontwait;
    try {
        if (!identity.empty() && !send_frame(identity.data(), identity.size(), more)) return false;
        // Once the first frame is queued the rest go too: zmq sends multipart atomically.
        if (!send_frame(protocol::kHeader.data(), protocol::kHeader.size(), more)) return false;
        send_frame(&code, 1, more);
        send_frame(body.data(), body.size(), zmq::send_flags::dontwait);
        return true;
    } catch (const zmq::error_t&) {
        // EHOSTUNREACH from a ROUTER_MANDATORY socket: the peer is gone.
        return false;
    }
}

std::optional<Received> receive_message(zmq::socket_t& socket, bool router, const protocol::Limits& limits) {
    zmq::message_t frames[4];
    std::size_t count = 0;
    bool more = true;
    std::size_t extra = 0;
    while (more) {
        zmq::message_t frame;
        const auto flags = count == 0 ? zmq::recv_flags::dontwait : zmq::recv_flags::none;
        auto received = retry_interrupted([&] { return socket.recv(frame, flags); });
        if (!received) return std::nullopt;  // nothing waiting (only possible on the first frame)
        more = frame.more();
        if (count < 4) {
            frames[count++] = std::move(frame);
        } else {
            ++extra;  // drain and count frames beyond what ZQP allows
        }
    }
    Received result{{}, Error{"empty message"}};
    std::size_t first = 0;
    if (router) {
        result.identity = frames[0].to_string();
        if (const char* user_id = zmq_msg_gets(frames[0].handle(), "User-Id")) result.user_id = user_id;
        first = 1;
    }
    if (count - first != 3 || extra != 0) {
        result.message = Error{"a ZQP message has 3 frames (header, command, body), got " +
                               std::to_string(count - first + extra)};
        return result;
    }
    result.message = decode(frames[first].to_string_view(), frames[first + 1].to_string_view(),
                            frames[first + 2].to_string_view(), limits);
    return result;
}

}  // namespace zq
