// What the node trusts: its own CURVE key pair and the public keys it admits, loaded once at
// start from the paths of [security] (docs/configuration.md), and the check that refuses to
// start a node whose tcp endpoints would run in the clear while keys are configured.
//
// Two ZAP domains (RFC 27) name who may connect where: "client" (the client port and the
// publisher) admits the keys in client_keys and in peer_keys, "peer" (a port only peers use)
// admits only peer_keys. ipc endpoints never use CURVE: the socket file's mode and group
// guard them (ipc_access.hpp).
#pragma once

#include "config.hpp"
#include "curve_keys.hpp"

#include <zq/result.hpp>

#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace zq::node {

inline constexpr std::string_view kClientDomain = "client";
inline constexpr std::string_view kPeerDomain = "peer";

class Security {
public:
    // No keys: every endpoint in the clear (the node's behaviour before CURVE).
    Security() = default;
    // Loads the keys named by config.security and checks the node's tcp endpoints against them.
    static Result<Security> load(const Config& config);

    // Whether tcp endpoints use CURVE: a key pair is configured and insecure_tcp is off.
    bool curve() const { return curve_; }
    const KeyPair& own() const { return own_; }
    // Whether a client presenting `key` (Z85) may connect to a socket of `domain`.
    bool admits(std::string_view domain, std::string_view key) const;
    bool is_peer_key(std::string_view key) const { return peer_keys_.count(std::string(key)) > 0; }
    // The peer keys in a stable order: tried in turn on a configured peer whose key is unknown.
    const std::vector<std::string>& peer_keys() const { return peer_key_list_; }
    std::size_t client_key_count() const { return client_keys_.size(); }

private:
    bool curve_ = false;
    KeyPair own_;
    std::set<std::string> client_keys_;
    std::set<std::string> peer_keys_;
    std::vector<std::string> peer_key_list_;
};

}  // namespace zq::node
