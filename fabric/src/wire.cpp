#include <zq/wire.hpp>

#include <cstdint>

namespace zq {

bool send_message(zmq::socket_t& socket, protocol::Command command, std::string_view body,
                  std::string_view identity) {
    const auto code = static_cast<std::uint8_t>(command);
    try {
        if (!identity.empty() &&
            !socket.send(zmq::const_buffer(identity.data(), identity.size()),
                         zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
            return false;
        }
        // Once the first frame is queued the rest go too: zmq sends multipart atomically.
        if (!socket.send(zmq::const_buffer(protocol::kHeader.data(), protocol::kHeader.size()),
                         zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
            return false;
        }
        socket.send(zmq::const_buffer(&code, 1), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
        socket.send(zmq::const_buffer(body.data(), body.size()), zmq::send_flags::dontwait);
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
        auto received = socket.recv(frame, count == 0 ? zmq::recv_flags::dontwait : zmq::recv_flags::none);
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
