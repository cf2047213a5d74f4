// One job transition, as the event stream tells it (the publisher sends it, the dispatcher
// makes it when the transition is journaled).
#pragma once

#include <cstdint>
#include <string>

namespace zq::node {

struct JobEvent {
    std::string id;
    std::string state;
    std::string task;
    std::string queue;
    std::string error;
    std::uint32_t attempts = 0;       // runs started so far
    std::int64_t next_attempt_ms = 0; // retrying: the next attempt; scheduled: the ETA (0 = none)
    std::string workflow;             // a workflow step: its workflow's id and its position
    std::string step;
};

}  // namespace zq::node
