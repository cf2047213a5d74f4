// What every fuzz target shares: the libFuzzer entry point it defines, and how it says that a
// property which must hold did not.
//
// Each target in this folder is one file that defines LLVMFuzzerTestOneInput. Built with
// clang and ZQ_FUZZ=ON it links libFuzzer (fuzz/run.sh runs it); built with any compiler it
// links replay_main.cpp instead, which feeds it every file of its corpus in tests/fuzz/, so
// that `make test` replays the corpus on every build without clang.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace zq::fuzz {

// A property of the code under test that failed: print it and abort, which libFuzzer reports
// as a crash (and saves the input) and the replay reports as a failed test.
[[noreturn]] inline void property_failed(const char* what, const char* file, int line) {
    std::fprintf(stderr, "%s:%d: fuzz property failed: %s\n", file, line, what);
    std::abort();
}

// The input as text, for the decoders that take text.
inline std::string_view text_of(const std::uint8_t* data, std::size_t size) {
    return {reinterpret_cast<const char*>(data), size};
}

}  // namespace zq::fuzz

#define ZQ_FUZZ_CHECK(condition) \
    ((condition) ? void(0) : ::zq::fuzz::property_failed(#condition, __FILE__, __LINE__))
