#include "security.hpp"

#include <zq/credentials.hpp>

#include <spdlog/spdlog.h>

#include <zmq.h>

namespace zq::node {
namespace {

// Every tcp endpoint the node binds or connects to, from its configuration.
std::vector<std::string> tcp_endpoints(const Config& config) {
    std::vector<std::string> endpoints;
    for (const auto* list : {&config.binds, &config.publish, &config.peers}) {
        for (const auto& endpoint : *list) {
            if (is_tcp_endpoint(endpoint)) endpoints.push_back(endpoint);
        }
    }
    return endpoints;
}

}  // namespace

Result<Security> Security::load(const Config& config) {
    const SecuritySettings& settings = config.security;
    Security security;
    std::vector<std::string> tcp = tcp_endpoints(config);
    bool allow_lists = !settings.client_keys.empty() || !settings.peer_keys.empty();
    bool keys_configured = !settings.key.empty() || allow_lists;

    if (!settings.client_keys.empty()) {
        auto keys = load_public_keys(settings.client_keys);
        if (!keys) return Error{"[security] client_keys: " + keys.error()};
        security.client_keys_ = std::move(*keys);
    }
    if (!settings.peer_keys.empty()) {
        auto keys = load_public_keys(settings.peer_keys);
        if (!keys) return Error{"[security] peer_keys: " + keys.error()};
        security.peer_keys_ = std::move(*keys);
    }
    if (!settings.key.empty()) {
        if (!zmq_has("curve")) return Error{"[security] key is set, but this libzmq was built without CURVE (libsodium)"};
        auto pair = load_key_pair(settings.key);
        if (!pair) return Error{"[security] key: " + pair.error()};
        security.own_ = std::move(*pair);
    }
    // The keys to try on a configured peer: the node's own key (peer_keys may list every
    // member's, this one's too) is not another node's.
    for (const auto& key : security.peer_keys_) {
        if (key != security.own_.public_key) security.peer_key_list_.push_back(key);
    }

    if (settings.insecure_tcp) {
        if (!tcp.empty()) {
            spdlog::warn("[security] insecure_tcp = true: tcp endpoints ({} and {} more) run without CURVE; anyone "
                         "who reaches them may act as a client or a peer",
                         tcp.front(), tcp.size() - 1);
        }
        return security;
    }
    if (!keys_configured) {
        // The behaviour before CURVE, kept so that existing setups start; said once.
        if (!tcp.empty()) {
            spdlog::warn("tcp endpoints ({} and {} more) run without CURVE: set [security] key (zq-node keygen DIR) "
                         "and client_keys/peer_keys to admit only known keys",
                         tcp.front(), tcp.size() - 1);
        }
        return security;
    }
    if (settings.key.empty()) {
        if (!tcp.empty()) {
            return Error{"tcp endpoint " + tcp.front() +
                         " would run without CURVE: [security] client_keys or peer_keys is set but key is not; set "
                         "key = \"DIR\" (zq-node keygen DIR), or insecure_tcp = true to run tcp in the clear"};
        }
        return security;
    }
    for (const auto& endpoint : config.peers) {
        if (is_tcp_endpoint(endpoint) && security.peer_key_list_.empty()) {
            return Error{"peer " + endpoint +
                         " cannot be reached with CURVE: [security] peer_keys holds no key to try (add the peers' "
                         "public.key files), or set insecure_tcp = true to run tcp in the clear"};
        }
    }
    security.curve_ = true;
    return security;
}

bool Security::admits(std::string_view domain, std::string_view key) const {
    std::string text(key);
    if (domain == kPeerDomain) return peer_keys_.count(text) > 0;
    if (domain == kClientDomain) return client_keys_.count(text) > 0 || peer_keys_.count(text) > 0;
    return false;
}

}  // namespace zq::node
