#include "support/raw_dealer.hpp"

namespace zq::test {

RawDealer::RawDealer(const std::string& endpoint) : socket_(context_, zmq::socket_type::dealer) {
    socket_.set(zmq::sockopt::linger, 0);
    socket_.connect(endpoint);
}

void RawDealer::send_frames(const std::vector<std::string>& frames) {
    for (std::size_t i = 0; i < frames.size(); ++i) {
        auto flags = i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none;
        socket_.send(zmq::buffer(frames[i]), flags);
    }
}

void RawDealer::send(std::uint8_t command, std::string_view body) {
    send_frames({"ZQP1", std::string(1, static_cast<char>(command)), std::string(body)});
}

std::optional<std::vector<std::string>> RawDealer::receive_frames(std::chrono::milliseconds deadline) {
    zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, deadline) <= 0) return std::nullopt;
    std::vector<std::string> frames;
    while (true) {
        zmq::message_t frame;
        (void)socket_.recv(frame);
        frames.push_back(frame.to_string());
        if (!frame.more()) break;
    }
    return frames;
}

}  // namespace zq::test
