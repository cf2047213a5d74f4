// Key files and CURVE socket options (zq/credentials.hpp, zq/curve.hpp).
#include <zq/credentials.hpp>
#include <zq/curve.hpp>

#include <zmq.h>

#include <array>
#include <cctype>
#include <fstream>
#include <sstream>

namespace zq {
namespace {

// A Z85 key decodes to 32 bytes.
constexpr std::size_t kCurveKeyBytes = 32;

bool decodes(const std::string& text) {
    std::array<std::uint8_t, kCurveKeyBytes> bytes{};
    return text.size() == kCurveKeyText && zmq_z85_decode(bytes.data(), text.c_str()) != nullptr;
}

}  // namespace

bool is_tcp_endpoint(std::string_view endpoint) { return endpoint.starts_with("tcp://"); }

Result<std::string> read_key_file(const std::string& path) {
    std::ifstream file(path);
    if (!file) return Error{"cannot read key file " + path, ErrorCode::bad_input};
    std::string key;
    char c = 0;
    // The first 40 non-blank characters: a key file may end with a newline, or be indented.
    while (key.size() < kCurveKeyText && file.get(c)) {
        if (!std::isspace(static_cast<unsigned char>(c))) key += c;
    }
    if (!decodes(key)) {
        return Error{"key file " + path + " does not hold a Z85 CURVE key (40 characters, as zq-node keygen writes)",
                     ErrorCode::bad_input};
    }
    return key;
}

Result<std::string> public_key_of(std::string_view secret_key) {
    std::string secret(secret_key);
    std::array<char, kCurveKeyText + 1> public_key{};
    if (!decodes(secret) || zmq_curve_public(public_key.data(), secret.c_str()) != 0) {
        return Error{"not a Z85 CURVE secret key", ErrorCode::bad_input};
    }
    return std::string(public_key.data());
}

Result<Credentials> load_credentials(std::string_view key_dir, std::string_view server_key_file) {
    Credentials credentials;
    if (key_dir.empty() && server_key_file.empty()) return credentials;
    if (key_dir.empty()) {
        return Error{"--server-key needs --key DIR too: CURVE clients have a key pair of their own (zq-node keygen DIR)",
                     ErrorCode::bad_input};
    }
    if (server_key_file.empty()) {
        return Error{"--key needs --server-key FILE too: the node's public key (its public.key)", ErrorCode::bad_input};
    }
    if (!zmq_has("curve")) return Error{"this libzmq was built without CURVE (libsodium)", ErrorCode::bad_input};
    auto secret = read_key_file(std::string(key_dir) + "/secret.key");
    if (!secret) return secret.failure();
    auto public_key = public_key_of(*secret);
    if (!public_key) return public_key.failure();
    auto server = read_key_file(std::string(server_key_file));
    if (!server) return server.failure();
    credentials.secret_key = std::move(*secret);
    credentials.public_key = std::move(*public_key);
    credentials.server_key = std::move(*server);
    return credentials;
}

void prepare_connection(zmq::socket_t& socket, std::string_view endpoint, std::string_view public_key,
                        std::string_view secret_key, std::string_view server_key) {
    if (is_tcp_endpoint(endpoint) && !server_key.empty()) {
        socket.set(zmq::sockopt::curve_serverkey, server_key);
        socket.set(zmq::sockopt::curve_publickey, public_key);
        socket.set(zmq::sockopt::curve_secretkey, secret_key);
    } else {
        // Back to the NULL mechanism (libzmq: CURVE_SERVER = 0 resets it).
        socket.set(zmq::sockopt::curve_server, 0);
    }
}

}  // namespace zq
