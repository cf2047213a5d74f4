// The node's ZAP handler (ZeroMQ RFC 27): libzmq asks it, for every CURVE handshake on a socket
// the node bound, whether the client's public key may connect, and it answers from the
// allow-lists of Security by the socket's ZAP domain ("client" or "peer").
//
// It runs on the node's loop, like every other part: a REP socket bound to
// inproc://zeromq.zap.01 in the node's context, drained by a ZmqWatcher. That keeps the
// allow-lists and the refusal counter single-threaded (no locks), at the cost of handshakes
// waiting while a turn runs: a few milliseconds, once per connection, not per message. It must
// be bound before any CURVE socket binds; a CURVE server without a ZAP handler admits anyone.
//
// An admitted client's User-Id (the zmq message property of everything it sends) is its
// public key in Z85, so that a peer's HELLO can be checked against the key that connected.
// Refusals are counted and logged, at most once per second with the number held back.
#pragma once

#include "event_loop.hpp"
#include "security.hpp"

#include <zq/result.hpp>

#include <zmq.hpp>

#include <cstdint>
#include <memory>

namespace zq::node {

class ZapHandler {
public:
    ZapHandler(zmq::context_t& context, const Security& security);
    Status bind();
    void start(uv_loop_t* loop);
    void close();

    std::uint64_t refused() const { return refused_; }
    std::uint64_t admitted() const { return admitted_; }

private:
    // Answers up to a batch of requests; true when none were left.
    bool drain();
    void log_refusal(const std::string& what);

    zmq::socket_t socket_;
    const Security& security_;
    std::unique_ptr<ZmqWatcher> watcher_;
    std::uint64_t refused_ = 0;
    std::uint64_t admitted_ = 0;
    std::int64_t last_log_ms_ = 0;
    std::uint64_t unlogged_ = 0;
};

}  // namespace zq::node
