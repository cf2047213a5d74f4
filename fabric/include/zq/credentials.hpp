// CURVE credentials of a client of zq-node: its own key pair and the node's public key.
//
//   auto credentials = zq::load_credentials("/etc/zq/client", "/etc/zq/node/public.key");
//   zq::Client client("tcp://node-a:7700", *credentials);
//
// A node configured with `[security] key` speaks CURVE (ZMTP's elliptic-curve security) on
// every tcp endpoint: it admits only clients whose public key is on its allow-list, and the
// traffic is encrypted. ipc endpoints never use CURVE (the socket file's mode guards them), so
// credentials are used for tcp endpoints only and ignored for ipc ones.
//
// Keys are Z85 text (40 characters), as `zq-node keygen DIR` writes them: DIR/secret.key
// (mode 0600) and DIR/public.key. This header has no zmq types; zq/curve.hpp applies
// credentials to a socket.
#pragma once

#include <zq/result.hpp>

#include <string>
#include <string_view>

namespace zq {

// The length of a CURVE key in Z85 text.
inline constexpr std::size_t kCurveKeyText = 40;

struct Credentials {
    std::string public_key;  // this side's key pair, Z85
    std::string secret_key;
    std::string server_key;  // the node's public key, Z85

    // Whether tcp connections use CURVE: a server key is known. Without an own key pair a
    // client still needs one; load_credentials() refuses that combination.
    bool curve() const { return !server_key.empty(); }
};

// Reads a key pair from DIR/secret.key (the public key is derived from it) and the node's
// public key from `server_key_file`. Both empty: no credentials (plain tcp). One without the
// other is an error, since CURVE needs both.
Result<Credentials> load_credentials(std::string_view key_dir, std::string_view server_key_file);

// The Z85 key held by a key file: its first 40 non-blank characters, checked to decode.
Result<std::string> read_key_file(const std::string& path);
// The public key that belongs to a Z85 secret key.
Result<std::string> public_key_of(std::string_view secret_key);
// Whether `endpoint` is a tcp endpoint (the transports CURVE applies to).
bool is_tcp_endpoint(std::string_view endpoint);

}  // namespace zq
