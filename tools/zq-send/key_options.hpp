// The CURVE options every zq-send command takes: --key DIR (this client's key pair) and
// --server-key FILE (the node's public key), used for tcp endpoints only (zq/credentials.hpp).
//
// A submission's --key is the job's uniqueness key (issue 11's name, kept): there --key
// names a key pair only when its value is a directory holding secret.key and --server-key is
// given; --client-key DIR names the pair without that guess, beside a uniqueness --key.
#pragma once

#include <CLI/CLI.hpp>

#include <filesystem>
#include <string>

namespace zq::send {

// Whether `path` is a directory that zq-node keygen wrote (it holds secret.key).
inline bool is_key_pair_dir(const std::string& path) {
    std::error_code error;
    return !path.empty() && std::filesystem::is_regular_file(std::filesystem::path(path) / "secret.key", error);
}

// --client-key and --server-key; and --key as the pair's directory when `key_is_pair` (the job
// and workflow commands, which have no uniqueness key).
inline void add_key_options(CLI::App& app, std::string& key_dir, std::string& server_key, bool key_is_pair) {
    auto* client_key =
        app.add_option("--client-key", key_dir, "this client's CURVE key pair, for a tcp node with keys (zq-node keygen DIR)");
    if (key_is_pair) {
        app.add_option("--key", key_dir, "this client's CURVE key pair (as --client-key)")->excludes(client_key);
    }
    app.add_option("--server-key", server_key, "the node's public key file (its public.key), with --key DIR");
}

}  // namespace zq::send
