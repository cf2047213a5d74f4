// A log throttle: at most one line per interval for one kind of event that input from outside
// can repeat at will (refused commands, malformed floods, peers beyond max_peers), with the
// number of lines it held back. Without it, a hostile sender would fill the disk with the log.
#pragma once

#include "clock.hpp"

#include <cstdint>

namespace zq::node {

class LogThrottle {
public:
    explicit LogThrottle(std::int64_t interval_ms = 1000) : interval_ms_(interval_ms) {}

    // Whether to log now; `suppressed` is set to how many were held back since the last line.
    bool allow(std::uint64_t& suppressed) {
        std::int64_t now = steady_ms();
        if (last_ms_ != 0 && now - last_ms_ < interval_ms_) {
            ++held_;
            return false;
        }
        last_ms_ = now;
        suppressed = held_;
        held_ = 0;
        return true;
    }

private:
    std::int64_t interval_ms_;
    std::int64_t last_ms_ = 0;
    std::uint64_t held_ = 0;
};

}  // namespace zq::node
