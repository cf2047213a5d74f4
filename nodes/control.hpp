// The control API: operator requests a node answers over its client port (CONTROL →
// CONTROL-REPLY): status, running, peers, reload, job, watch, trace-on, trace-off, history
// and schedules. docs/protocol.md lists them.
#pragma once

#include "config.hpp"
#include "dispatcher.hpp"
#include "membership.hpp"
#include "pool.hpp"
#include "router_port.hpp"
#include "publisher.hpp"
#include "schedule_runner.hpp"
#include "subscriber.hpp"

#include <zq/codec.hpp>

#include <nlohmann/json.hpp>

#include <functional>
#include <string>

namespace zq::node {

// What control reads from the node; it owns none of it.
struct ControlContext {
    const Config& config;
    const std::string& incarnation;
    Dispatcher& dispatcher;
    Pool& pool;
    RouterPort& port;       // the client port
    RouterPort& peer_port;  // the peer port
    Membership& membership;
    Publisher& publisher;
    Subscriber& subscriber;
    ScheduleRunner& schedules;
    std::function<Status()> reload;
};

void handle_control(ControlContext& node, const std::string& client, const Message& message);

// The node status: name, incarnation, pool, workers, jobs by state, message counters.
nlohmann::json node_status(ControlContext& node);

}  // namespace zq::node
