// The soak's network: one network namespace per node, all joined by veth pairs to a bridge
// in a namespace of its own, on 10.214.0.0/24 (node i at 10.214.0.i+1). A cut between two
// nodes is a blackhole route each way, so the packets vanish silently, as in a real
// partition; the rest of the cluster still reaches both. Everything is made with `ip` (needs
// root) and removed again by the destructor. Nodes are reached by the soak itself through
// their ipc sockets, file paths that work across namespaces.
#pragma once

#include <zq/result.hpp>

#include <memory>
#include <string>
#include <vector>

namespace zq::chaos {

class Network {
public:
    // Makes the namespaces and the bridge; the error says what `ip` answered.
    static Result<std::unique_ptr<Network>> create(const std::string& prefix, std::size_t hosts);
    ~Network();
    Network(const Network&) = delete;
    Network& operator=(const Network&) = delete;

    const std::string& namespace_of(std::size_t host) const { return namespaces_[host]; }
    std::string address_of(std::size_t host) const;

    bool cut(std::size_t a, std::size_t b);
    bool heal(std::size_t a, std::size_t b);

    // Removes every namespace; true when none is left (also called by the destructor).
    bool remove();
    // Namespaces whose name begins with `prefix` that exist now.
    static std::vector<std::string> existing(const std::string& prefix);

private:
    explicit Network(std::string prefix) : prefix_(std::move(prefix)) {}
    bool route(const char* verb, std::size_t from, std::size_t to);

    std::string prefix_;
    std::string bridge_namespace_;
    std::vector<std::string> namespaces_;
    bool removed_ = false;
};

}  // namespace zq::chaos
