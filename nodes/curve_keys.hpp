// CURVE key files on disk: a node's own key pair (`zq-node keygen DIR`) and the directories of
// public keys it admits (`[security] client_keys`, `peer_keys`).
//
// A key pair is two files of Z85 text, one key and a newline each: DIR/secret.key (mode 0600,
// the secret key; the public key is derived from it when loaded) and DIR/public.key (to hand
// to clients and peers). An allow-list directory holds one public key per file, under any
// name; keygen's secret.key is never read as an allowed key.
#pragma once

#include <zq/result.hpp>

#include <set>
#include <string>

namespace zq::node {

struct KeyPair {
    std::string public_key;  // Z85
    std::string secret_key;
};

// Makes a new key pair and writes it to DIR (created 0700 when missing). Refuses to replace
// an existing DIR/secret.key: whatever trusted the old public key would stop trusting this node.
Result<KeyPair> generate_key_pair(const std::string& dir);
// Reads DIR/secret.key; if DIR/public.key exists it must belong to it.
Result<KeyPair> load_key_pair(const std::string& dir);
// The Z85 keys of every regular file in `dir` but secret.key. A file that does not hold a key
// is an error naming it: a typo must not silently shrink an allow-list.
Result<std::set<std::string>> load_public_keys(const std::string& dir);

}  // namespace zq::node
