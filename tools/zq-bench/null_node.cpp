#include "null_node.hpp"

#include <zq/codec.hpp>
#include <zq/job.hpp>
#include <zq/protocol.hpp>
#include <zq/wire.hpp>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>

namespace zq::bench {

namespace {

namespace f = protocol::field;
using protocol::Command;

// The name the null node gives itself in its replies.
constexpr std::string_view kNodeName = "null";
// A no-op's result: msgpack nil.
constexpr std::string_view kNil{"\xc0", 1};

void reject(zmq::socket_t& socket, const std::string& client, std::string_view reason) {
    BodyWriter body;
    body.add(f::reason, reason);
    send_message(socket, Command::rejected, body.finish(), client);
}

// One answer per message, as zq-node gives a no-op that ran at once.
void answer(zmq::socket_t& socket, const Received& received) {
    if (!received.message) {
        reject(socket, received.identity, "malformed message: " + received.message.error());
        return;
    }
    const Message& message = received.message.value();
    switch (message.command()) {
        case Command::submit: {
            // The codec has checked that id and task are present and strings.
            const std::string_view id = *message.string(f::id);
            BodyWriter accepted;
            accepted.add(f::id, id).add(f::state, to_string(JobState::queued)).add(f::node, kNodeName);
            send_message(socket, Command::accepted, accepted.finish(), received.identity);
            if (message.boolean(f::watch).value_or(false)) {
                BodyWriter state;
                state.add(f::id, id)
                    .add(f::state, to_string(JobState::succeeded))
                    .add(f::task, *message.string(f::task))
                    .add(f::node, kNodeName)
                    .add_packed(f::result, kNil);
                send_message(socket, Command::state, state.finish(), received.identity);
            }
            return;
        }
        case Command::control: {
            BodyWriter reply;
            if (auto rid = message.unsigned_integer(f::request_id)) reply.add(f::request_id, *rid);
            reply.add(f::ok, false).add(f::error, "a null node has no status: it only answers SUBMIT");
            send_message(socket, Command::control_reply, reply.finish(), received.identity);
            return;
        }
        default:
            reject(socket, received.identity,
                   "a null node only answers SUBMIT, not " + std::string(protocol::command_name(message.command())));
    }
}

}  // namespace

Result<std::unique_ptr<NullNode>> NullNode::start() {
    std::error_code error;
    const auto temp = std::filesystem::temp_directory_path(error);
    std::string directory = ((error ? std::filesystem::path("/tmp") : temp) / "zq-bench-XXXXXX").string();
    if (mkdtemp(directory.data()) == nullptr) {
        return Error{"cannot make a temporary directory " + directory + " for the null node: " + std::strerror(errno) +
                     " (set TMPDIR to a writable directory)"};
    }
    // Owned from here, so that a failed bind still removes the directory.
    std::unique_ptr<NullNode> node(new NullNode(directory, "ipc://" + directory + "/null.sock"));
    try {
        node->socket_ = zmq::socket_t(node->context_, zmq::socket_type::router);
        node->socket_.set(zmq::sockopt::linger, 0);
        // Unbounded both ways, so that no reply is ever dropped: a ROUTER drops what exceeds its
        // send high-water mark, and zq-bench's burst runs keep 10,000 submissions in flight.
        node->socket_.set(zmq::sockopt::sndhwm, 0);
        node->socket_.set(zmq::sockopt::rcvhwm, 0);
        node->socket_.bind(node->endpoint_);
    } catch (const zmq::error_t& failure) {
        return Error{"cannot bind the null node to " + node->endpoint_ + ": " + failure.what()};
    }
    // The socket moves to the thread here; starting a thread is the memory barrier zmq asks
    // for when a socket changes threads.
    node->thread_ = std::thread([raw = node.get()] { raw->serve(); });
    return node;
}

NullNode::NullNode(std::string directory, std::string endpoint)
    : directory_(std::move(directory)), endpoint_(std::move(endpoint)) {}

NullNode::~NullNode() {
    // Shutting the context down makes the thread's blocking poll fail with ETERM.
    context_.shutdown();
    if (thread_.joinable()) thread_.join();
    socket_.close();
    std::error_code ignored;
    std::filesystem::remove_all(directory_, ignored);
}

void NullNode::serve() {
    try {
        for (;;) {
            // Everything waiting first; the poll only when the socket is empty.
            while (auto received = receive_message(socket_, true)) answer(socket_, *received);
            zmq_pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
            retry_interrupted([&] { return zmq::poll(&item, 1, std::chrono::milliseconds(-1)); });
        }
    } catch (const zmq::error_t& failure) {
        if (failure.num() != ETERM) std::cerr << "zq-bench: the null node stopped: " << failure.what() << std::endl;
    }
    socket_.close();
}

}  // namespace zq::bench
