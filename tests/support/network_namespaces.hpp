// Two test "hosts" for cluster tests that need a real network cut: two network namespaces
// made by the test, joined by a veth pair, removed again by the destructor. Nodes run inside
// them through `ip netns exec` (NodeOptions::netns) and reach each other over tcp on the veth
// addresses; the test still talks to each node through its ipc socket, a file path, which
// works across network namespaces. cut() takes the link down, heal() brings it back.
#pragma once

#include <string>

namespace zq::test {

class NetworkPair {
public:
    NetworkPair();  // throws std::runtime_error when namespaces cannot be made (needs root)
    ~NetworkPair();
    NetworkPair(const NetworkPair&) = delete;
    NetworkPair& operator=(const NetworkPair&) = delete;

    const std::string& namespace_a() const { return namespace_a_; }
    const std::string& namespace_b() const { return namespace_b_; }
    // Addresses on the veth link: "10.213.0.1" (host a) and "10.213.0.2" (host b).
    const std::string& address_a() const { return address_a_; }
    const std::string& address_b() const { return address_b_; }

    void cut();
    void heal();

private:
    std::string namespace_a_, namespace_b_, link_a_, link_b_;
    std::string address_a_ = "10.213.0.1", address_b_ = "10.213.0.2";
};

}  // namespace zq::test
