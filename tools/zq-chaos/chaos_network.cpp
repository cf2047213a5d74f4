#include "chaos_network.hpp"

#include "processes.hpp"

#include <sstream>

namespace zq::chaos {
namespace {

constexpr const char* kIp = "/usr/sbin/ip";

Ran ip(std::vector<std::string> arguments) {
    arguments.insert(arguments.begin(), kIp);
    return run_command(arguments);
}

}  // namespace

Result<std::unique_ptr<Network>> Network::create(const std::string& prefix, std::size_t hosts) {
    std::unique_ptr<Network> network(new Network(prefix));
    network->bridge_namespace_ = prefix + "br";
    std::vector<std::vector<std::string>> steps = {
        {"netns", "add", network->bridge_namespace_},
        {"-n", network->bridge_namespace_, "link", "add", "br0", "type", "bridge"},
        {"-n", network->bridge_namespace_, "link", "set", "br0", "up"},
    };
    for (std::size_t host = 0; host < hosts; ++host) {
        const std::string letter(1, static_cast<char>('a' + host));
        const std::string ns = prefix + letter;
        const std::string inside = prefix + letter;        // the node's end of the veth pair
        const std::string outside = prefix + letter + "x";  // the bridge's end
        network->namespaces_.push_back(ns);
        const std::vector<std::vector<std::string>> host_steps = {
            {"netns", "add", ns},
            {"link", "add", inside, "type", "veth", "peer", "name", outside},
            {"link", "set", inside, "netns", ns},
            {"link", "set", outside, "netns", network->bridge_namespace_},
            {"-n", network->bridge_namespace_, "link", "set", outside, "master", "br0"},
            {"-n", network->bridge_namespace_, "link", "set", outside, "up"},
            {"-n", ns, "link", "set", "lo", "up"},
            {"-n", ns, "addr", "add", network->address_of(host) + "/24", "dev", inside},
            {"-n", ns, "link", "set", inside, "up"},
        };
        steps.insert(steps.end(), host_steps.begin(), host_steps.end());
    }
    for (const auto& step : steps) {
        const Ran ran = ip(step);
        if (ran.exit_code != 0) {
            std::ostringstream line;
            line << "ip";
            for (const auto& word : step) line << ' ' << word;
            return Error{line.str() + " failed: " + ran.output};
        }
    }
    return network;
}

Network::~Network() { remove(); }

std::string Network::address_of(std::size_t host) const { return "10.214.0." + std::to_string(host + 1); }

bool Network::route(const char* verb, std::size_t from, std::size_t to) {
    return ip({"-n", namespaces_[from], "route", verb, "blackhole", address_of(to) + "/32"}).exit_code == 0;
}

bool Network::cut(std::size_t a, std::size_t b) {
    const bool there = route("add", a, b);
    const bool back = route("add", b, a);
    return there && back;
}

bool Network::heal(std::size_t a, std::size_t b) {
    const bool there = route("del", a, b);
    const bool back = route("del", b, a);
    return there && back;
}

bool Network::remove() {
    if (removed_) return existing(prefix_).empty();
    removed_ = true;
    // Deleting a namespace deletes the veth ends in it, and with them the pairs.
    for (const auto& ns : namespaces_) ip({"netns", "del", ns});
    if (!bridge_namespace_.empty()) ip({"netns", "del", bridge_namespace_});
    return existing(prefix_).empty();
}

std::vector<std::string> Network::existing(const std::string& prefix) {
    std::vector<std::string> found;
    std::istringstream lines(ip({"netns", "list"}).output);
    for (std::string line; std::getline(lines, line);) {
        const std::string name = line.substr(0, line.find(' '));
        if (name.starts_with(prefix)) found.push_back(name);
    }
    return found;
}

}  // namespace zq::chaos
