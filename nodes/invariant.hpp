// ZQ_ASSERT: an invariant of the node's state, checked in debug and sanitizer builds.
//
// The dispatcher's parts keep state that must agree (the counts by state equal the states of
// the jobs held; a job forgotten is in no queue). A broken invariant is a bug in zq, not an
// error a caller can handle, so the check aborts with what broke and where. Release builds
// compile the condition out (it is never evaluated), unless ZQ_ASSERTIONS is defined
// (cmake -DZQ_ASSERTIONS=ON, also implied by ZQ_SANITIZE).
#pragma once

#include <cstdio>
#include <cstdlib>

#if !defined(NDEBUG) || defined(ZQ_ASSERTIONS)
#define ZQ_ASSERTIONS_ON 1
#define ZQ_ASSERT(condition, what)                                                            \
    do {                                                                                      \
        if (!(condition)) ::zq::node::invariant_broken(__FILE__, __LINE__, #condition, what); \
    } while (false)
#else
#define ZQ_ASSERTIONS_ON 0
// sizeof keeps the names in the condition used without evaluating it.
#define ZQ_ASSERT(condition, what) static_cast<void>(sizeof(!(condition)))
#endif

namespace zq::node {

[[noreturn]] inline void invariant_broken(const char* file, int line, const char* condition, const char* what) {
    std::fprintf(stderr, "zq-node: invariant broken at %s:%d: %s (%s is false)\n", file, line, what, condition);
    std::abort();
}

}  // namespace zq::node
