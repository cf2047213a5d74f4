#include "support/network_namespaces.hpp"

#include "support/node_process.hpp"

#include <unistd.h>

#include <stdexcept>

namespace zq::test {
namespace {

constexpr const char* kIp = "/usr/sbin/ip";
// Setting up and tearing down a namespace takes milliseconds; this bounds a stuck `ip`.
constexpr auto kIpDeadline = std::chrono::seconds(10);

void ip(const std::vector<std::string>& arguments, bool must_work = true) {
    std::vector<std::string> argv{kIp};
    argv.insert(argv.end(), arguments.begin(), arguments.end());
    auto result = run_command(argv, kIpDeadline);
    if (must_work && result.exit_code != 0) {
        std::string line;
        for (const auto& word : argv) line += word + " ";
        throw std::runtime_error(line + "failed (" + std::to_string(result.exit_code) + "): " + result.err);
    }
}

}  // namespace

NetworkPair::NetworkPair() {
    // Names unique per test process, so that tests may run in parallel; interface names must
    // fit in 15 bytes.
    std::string tag = "zq" + std::to_string(getpid());
    namespace_a_ = tag + "a";
    namespace_b_ = tag + "b";
    link_a_ = tag + "va";
    link_b_ = tag + "vb";
    ip({"netns", "add", namespace_a_});
    ip({"netns", "add", namespace_b_});
    ip({"link", "add", link_a_, "type", "veth", "peer", "name", link_b_});
    ip({"link", "set", link_a_, "netns", namespace_a_});
    ip({"link", "set", link_b_, "netns", namespace_b_});
    for (auto [ns, link, address] : {std::tuple{namespace_a_, link_a_, address_a_},
                                     std::tuple{namespace_b_, link_b_, address_b_}}) {
        ip({"-n", ns, "link", "set", "lo", "up"});
        ip({"-n", ns, "addr", "add", address + "/24", "dev", link});
        ip({"-n", ns, "link", "set", link, "up"});
    }
}

NetworkPair::~NetworkPair() {
    // Deleting a namespace deletes the veth end in it, and with it the pair.
    ip({"netns", "del", namespace_a_}, false);
    ip({"netns", "del", namespace_b_}, false);
}

void NetworkPair::cut() { ip({"-n", namespace_a_, "link", "set", link_a_, "down"}); }

void NetworkPair::heal() { ip({"-n", namespace_a_, "link", "set", link_a_, "up"}); }

}  // namespace zq::test
