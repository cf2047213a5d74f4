#include "zap_handler.hpp"

#include "clock.hpp"

#include <zq/credentials.hpp>
#include <zq/wire.hpp>

#include <spdlog/spdlog.h>

#include <zmq.h>

#include <array>
#include <vector>

namespace zq::node {
namespace {

constexpr const char* kZapEndpoint = "inproc://zeromq.zap.01";
constexpr int kBatchLimit = 256;
// At most one refusal line per this many milliseconds: a client retrying with a wrong key
// every 100 ms must not fill the log.
constexpr std::int64_t kLogIntervalMs = 1000;
constexpr std::size_t kCurveKeyBytes = 32;

std::string z85(const zmq::message_t& key) {
    if (key.size() != kCurveKeyBytes) return {};
    std::array<char, kCurveKeyText + 1> text{};
    if (!zmq_z85_encode(text.data(), static_cast<const std::uint8_t*>(key.data()), kCurveKeyBytes)) return {};
    return text.data();
}

}  // namespace

ZapHandler::ZapHandler(zmq::context_t& context, const Security& security)
    : socket_(context, zmq::socket_type::rep), security_(security) {
    socket_.set(zmq::sockopt::linger, 0);
}

Status ZapHandler::bind() {
    try {
        socket_.bind(kZapEndpoint);
    } catch (const zmq::error_t& error) {
        return Error{std::string("cannot bind the ZAP handler: ") + error.what()};
    }
    return success();
}

void ZapHandler::start(uv_loop_t* loop) {
    watcher_ = std::make_unique<ZmqWatcher>(loop, socket_, [this] { return drain(); });
}

bool ZapHandler::drain() {
    for (int i = 0; i < kBatchLimit; ++i) {
        // version, request id, domain, address, identity, mechanism, credentials...
        std::vector<zmq::message_t> frames;
        zmq::message_t frame;
        if (!retry_interrupted([&] { return socket_.recv(frame, zmq::recv_flags::dontwait); })) return true;
        bool more = frame.more();
        frames.push_back(std::move(frame));
        while (more) {
            zmq::message_t next;
            retry_interrupted([&] { return socket_.recv(next); });
            more = next.more();
            frames.push_back(std::move(next));
        }
        std::string request_id = frames.size() > 1 ? frames[1].to_string() : "";
        std::string domain = frames.size() > 2 ? frames[2].to_string() : "";
        std::string address = frames.size() > 3 ? frames[3].to_string() : "";
        std::string mechanism = frames.size() > 5 ? frames[5].to_string() : "";
        std::string key = mechanism == "CURVE" && frames.size() > 6 ? z85(frames[6]) : "";

        bool admitted = false;
        std::string reason;
        if (frames.size() < 6 || frames[0].to_string_view() != "1.0") {
            reason = "malformed ZAP request";
        } else if (mechanism == "NULL") {
            // Only sockets bound without CURVE (ipc, or tcp with insecure_tcp) reach here.
            admitted = true;
        } else if (mechanism != "CURVE" || key.empty()) {
            reason = "mechanism " + mechanism + " is not accepted";
        } else if (security_.admits(domain, key)) {
            admitted = true;
        } else {
            reason = "key " + key + " is not in the allow-list of domain \"" + domain + "\"";
        }
        if (admitted) {
            ++admitted_;
        } else {
            ++refused_;
            log_refusal("refused a connection from " + (address.empty() ? std::string("?") : address) + ": " + reason);
        }
        const char* status = admitted ? "200" : "400";
        std::string user_id = admitted ? key : "";
        socket_.send(zmq::buffer(std::string_view("1.0")), zmq::send_flags::sndmore);
        socket_.send(zmq::buffer(request_id), zmq::send_flags::sndmore);
        socket_.send(zmq::buffer(std::string_view(status)), zmq::send_flags::sndmore);
        socket_.send(zmq::buffer(admitted ? std::string_view("OK") : std::string_view("refused")),
                     zmq::send_flags::sndmore);
        socket_.send(zmq::buffer(user_id), zmq::send_flags::sndmore);
        socket_.send(zmq::message_t(), zmq::send_flags::none);
        if (watcher_) watcher_->sent();
    }
    return false;
}

void ZapHandler::log_refusal(const std::string& what) {
    std::int64_t now = steady_ms();
    if (last_log_ms_ != 0 && now - last_log_ms_ < kLogIntervalMs) {
        ++unlogged_;
        return;
    }
    if (unlogged_ > 0) {
        spdlog::warn("{} ({} more refusals since the last line; {} in all)", what, unlogged_, refused_);
    } else {
        spdlog::warn("{} ({} refusals in all)", what, refused_);
    }
    last_log_ms_ = now;
    unlogged_ = 0;
}

void ZapHandler::close() {
    watcher_.reset();
    socket_.close();
}

}  // namespace zq::node
