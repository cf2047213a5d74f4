#include "router_port.hpp"

#include "clock.hpp"

#include "secure_socket.hpp"

#include <zq/wire.hpp>

#include <spdlog/spdlog.h>

namespace zq::node {
namespace {
// Messages handled per turn before the journal commits and replies go out: large enough to
// amortise the commit, small enough to keep each client's latency low under load.
constexpr int kBatchLimit = 2048;
// Replies queued per client before sends fail with EAGAIN instead of blocking the loop.
constexpr int kSendHighWater = 100000;
// How much larger than max_message_bytes a frame may be before zmq drops the connection
// (16 MiB with the default 1 MiB): a frame between the two is received whole, answered
// REJECTED and counted, and the connection stays usable; only past this hard bound does zmq
// refuse to buffer the frame and close the connection, with no answer.
constexpr std::int64_t kTransportSizeFactor = 16;
// How long a closing port may take to deliver replies already queued: the outcomes a
// graceful shutdown reports go out in the node's last turn, just before the port closes.
constexpr int kCloseLingerMs = 2000;
}  // namespace

RouterPort::RouterPort(zmq::context_t& context, const protocol::Limits& limits, std::string role)
    : socket_(context, zmq::socket_type::router), limits_(limits), role_(std::move(role)) {
    // A reply to a client that is gone must fail visibly, not vanish.
    socket_.set(zmq::sockopt::router_mandatory, 1);
    socket_.set(zmq::sockopt::linger, 0);
    socket_.set(zmq::sockopt::sndhwm, kSendHighWater);
    socket_.set(zmq::sockopt::rcvhwm, kSendHighWater);
    // The decoder refuses bodies over max_message_bytes with a reason; this bound, well above
    // it, stops a sender from making zmq buffer arbitrarily large frames (its connection drops).
    socket_.set(zmq::sockopt::maxmsgsize, static_cast<std::int64_t>(limits.max_message_bytes) * kTransportSizeFactor);
}

Status RouterPort::bind(const std::vector<std::string>& endpoints, const Security& security, std::string_view domain) {
    for (const auto& endpoint : endpoints) {
        if (auto bound = bind_secured(socket_, security, domain, endpoint); !bound) return bound;
    }
    return success();
}

void RouterPort::start(uv_loop_t* loop, Handler handler) {
    handler_ = std::move(handler);
    watcher_ = std::make_unique<ZmqWatcher>(loop, socket_, [this] { return drain(); });
}

bool RouterPort::drain() {
    for (int i = 0; i < kBatchLimit; ++i) {
        auto received = receive_message(socket_, true, limits_);
        if (!received) return true;
        ++received_;
        std::int64_t now = steady_ms();
        if (guard_.ignored(received->identity, now)) continue;
        if (!received->message) {
            ++malformed_;
            if (guard_.malformed(received->identity, now)) {
                // No reply: answering a flood is what the flood wants.
                spdlog::warn("{} port: a sender sent too many malformed messages in a second; its messages are "
                             "dropped for a while (last: {})",
                             role_, received->message.error());
                continue;
            }
            if (std::uint64_t held = 0; malformed_log_.allow(held)) {
                spdlog::warn("{} port: rejected a malformed message: {}{}", role_, received->message.error(),
                             held ? " (" + std::to_string(held) + " more not logged)" : std::string());
            }
            BodyWriter body;
            body.add(protocol::field::reason, "malformed message: " + received->message.error());
            send(received->identity, protocol::Command::rejected, body.finish());
            continue;
        }
        handler_(received->identity, *received->message, received->user_id);
    }
    return false;
}

void RouterPort::refuse(const std::string& sender, std::string_view body, std::string_view why) {
    ++refused_;
    if (std::uint64_t held = 0; refused_log_.allow(held)) {
        spdlog::warn("{} port: refused {}{}", role_, why,
                     held ? " (" + std::to_string(held) + " more refusals not logged)" : std::string());
    }
    send(sender, protocol::Command::rejected, body);
}

bool RouterPort::send(const std::string& client, protocol::Command command, std::string_view body) {
    if (!socket_) return false;
    if (watcher_) watcher_->sent();
    if (send_message(socket_, command, body, client)) return true;
    spdlog::debug("{} port: reply {} to a sender that is gone or not reading", role_, protocol::command_name(command));
    return false;
}

void RouterPort::close() {
    watcher_.reset();
    // With the linger of 0 set above, closing would drop whatever zmq has not sent yet. The
    // context's termination, when the node ends, waits for these last replies instead.
    if (socket_) socket_.set(zmq::sockopt::linger, kCloseLingerMs);
    socket_.close();
}

}  // namespace zq::node
