// Fuzz target: the node's TOML configuration (nodes/config.cpp), read from a file as
// `zq-node run --config FILE` reads it, then completed and range-checked as at start.
//
// Input: the text of the file. It is written to an anonymous in-memory file, so that the
// target goes through load_config_file() itself, path and all, without touching the disk.
#include "fuzz_target.hpp"

#include "config.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <string>

namespace {

// One memfd for the whole run, rewritten for each input.
int config_fd() {
    static const int fd = ::memfd_create("zq-fuzz-config", MFD_CLOEXEC);
    return fd;
}

bool write_all(int fd, std::string_view text) {
    if (::ftruncate(fd, 0) != 0) return false;
    std::size_t written = 0;
    while (written < text.size()) {
        const ssize_t n = ::pwrite(fd, text.data() + written, text.size() - written, static_cast<off_t>(written));
        if (n <= 0) return false;
        written += static_cast<std::size_t>(n);
    }
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const int fd = config_fd();
    ZQ_FUZZ_CHECK(fd >= 0);
    ZQ_FUZZ_CHECK(write_all(fd, zq::fuzz::text_of(data, size)));
    zq::node::Config config;
    // Set, so that finish_config() does not look up the host or the binary's directory.
    config.name = "fuzz";
    config.data_dir = "/nonexistent/zq-fuzz";
    config.worker_command = {"/bin/true"};
    auto loaded = zq::node::load_config_file("/proc/self/fd/" + std::to_string(fd), config);
    if (!loaded) {
        ZQ_FUZZ_CHECK(!loaded.error().empty());
        return 0;
    }
    auto finished = zq::node::finish_config(config);
    if (finished) {
        // What a started node relies on.
        ZQ_FUZZ_CHECK(config.min_workers >= 1 && config.max_workers >= config.min_workers);
        ZQ_FUZZ_CHECK(config.heartbeat_interval >= 0.01 && config.heartbeat_liveness >= 1);
        ZQ_FUZZ_CHECK(!config.queues.empty());
    }
    return 0;
}
