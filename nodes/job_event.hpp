// One job transition, as the event stream tells it (the publisher sends it, the dispatcher
// makes it when the transition is journaled).
#pragma once

#include <string>

namespace zq::node {

struct JobEvent {
    std::string id;
    std::string state;
    std::string task;
    std::string queue;
    std::string error;
};

}  // namespace zq::node
