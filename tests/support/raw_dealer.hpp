// A DEALER that speaks ZQP/1 frame by frame, as a client written from docs/protocol.md alone
// would: tests of bad, hostile and spec-walking input send exactly the frames they mean and
// read back exactly what the node answers.
#pragma once

#include "support/node_process.hpp"

#include <zmq.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace zq::test {

class RawDealer {
public:
    explicit RawDealer(const std::string& endpoint);

    // Sends these frames as one message, as they are.
    void send_frames(const std::vector<std::string>& frames);
    // Sends ["ZQP1"][command][body].
    void send(std::uint8_t command, std::string_view body);
    // The frames of the next message, or nullopt when none comes within `deadline`.
    std::optional<std::vector<std::string>> receive_frames(std::chrono::milliseconds deadline = kDeadline);

private:
    zmq::context_t context_;
    zmq::socket_t socket_;
};

}  // namespace zq::test
