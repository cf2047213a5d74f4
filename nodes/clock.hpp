// The node's two clocks, in milliseconds: the steady clock for intervals and deadlines (it
// never jumps), the wall clock for what is journaled and shown (it means something to people).
#pragma once

#include <chrono>
#include <cstdint>

namespace zq::node {

inline std::int64_t steady_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

inline std::int64_t wall_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

// Microseconds on the wall clock, for the fanout streams: a job's hops across nodes on one
// host are often less than a millisecond apart.
inline std::int64_t wall_us() {
    using namespace std::chrono;
    return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace zq::node
