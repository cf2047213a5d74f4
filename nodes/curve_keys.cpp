#include "curve_keys.hpp"

#include <zq/credentials.hpp>

#include <zmq.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>

namespace zq::node {
namespace {

constexpr const char* kSecretFile = "secret.key";
constexpr const char* kPublicFile = "public.key";

// Writes `text` to a new file of the given mode; O_EXCL, so nothing is ever overwritten.
Status write_new_file(const std::string& path, const std::string& text, mode_t mode) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) return Error{"cannot create " + path + ": " + std::strerror(errno)};
    // The umask may have narrowed the mode; the secret's 0600 is wanted exactly.
    bool written = ::fchmod(fd, mode) == 0 && ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                   ::fsync(fd) == 0;
    int saved = errno;
    ::close(fd);
    if (!written) return Error{"cannot write " + path + ": " + std::strerror(saved)};
    return success();
}

}  // namespace

Result<KeyPair> generate_key_pair(const std::string& dir) {
    if (!zmq_has("curve")) return Error{"this libzmq was built without CURVE (libsodium): cannot make keys"};
    std::string secret_path = dir + "/" + kSecretFile;
    std::string public_path = dir + "/" + kPublicFile;
    if (::access(secret_path.c_str(), F_OK) == 0) {
        return Error{secret_path + " already exists; not overwritten (remove it first to make a new key pair, "
                                   "then hand out the new public.key)"};
    }
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
        return Error{"cannot create key directory " + dir + ": " + std::strerror(errno)};
    }
    std::array<char, kCurveKeyText + 1> public_key{};
    std::array<char, kCurveKeyText + 1> secret_key{};
    if (zmq_curve_keypair(public_key.data(), secret_key.data()) != 0) {
        return Error{std::string("cannot make a key pair: ") + zmq_strerror(zmq_errno())};
    }
    KeyPair pair{public_key.data(), secret_key.data()};
    if (auto written = write_new_file(secret_path, pair.secret_key + "\n", 0600); !written) return written.failure();
    // A public.key left over from an earlier pair would not match: replace it.
    std::filesystem::remove(public_path);
    if (auto written = write_new_file(public_path, pair.public_key + "\n", 0644); !written) return written.failure();
    return pair;
}

Result<KeyPair> load_key_pair(const std::string& dir) {
    auto secret = read_key_file(dir + "/" + kSecretFile);
    if (!secret) return Error{secret.error() + " (make a key pair with: zq-node keygen " + dir + ")"};
    auto public_key = public_key_of(*secret);
    if (!public_key) return public_key.failure();
    std::string public_path = dir + "/" + kPublicFile;
    if (::access(public_path.c_str(), F_OK) == 0) {
        auto written = read_key_file(public_path);
        if (!written) return written.failure();
        if (*written != *public_key) return Error{public_path + " does not belong to " + dir + "/" + kSecretFile};
    }
    return KeyPair{std::move(*public_key), std::move(*secret)};
}

Result<std::set<std::string>> load_public_keys(const std::string& dir) {
    std::set<std::string> keys;
    std::error_code error;
    std::filesystem::directory_iterator entries(dir, error);
    if (error) return Error{"cannot read key directory " + dir + ": " + error.message()};
    for (const auto& entry : entries) {
        if (!entry.is_regular_file(error) || entry.path().filename() == kSecretFile) continue;
        auto key = read_key_file(entry.path().string());
        if (!key) return key.failure();
        keys.insert(std::move(*key));
    }
    return keys;
}

}  // namespace zq::node
