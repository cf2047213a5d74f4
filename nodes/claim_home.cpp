#include "claim_home.hpp"

namespace zq::node {
namespace {

constexpr std::uint64_t kFnvOffset = 14695981039346656037ull;
constexpr std::uint64_t kFnvPrime = 1099511628211ull;
// Between the id and the node name, so that ("ab", "c") and ("a", "bc") differ. No UTF-8
// text contains this byte.
constexpr unsigned char kSeparator = 0xff;

std::uint64_t fnv1a(std::uint64_t hash, std::string_view bytes) {
    for (unsigned char byte : bytes) {
        hash ^= byte;
        hash *= kFnvPrime;
    }
    return hash;
}

// SplitMix64's finalizer: FNV-1a alone leaves similar inputs (ids that differ in their last
// character, node names "a", "b", "c") with correlated high bits; this spreads every input
// bit over the whole word.
std::uint64_t mix(std::uint64_t value) {
    value ^= value >> 30;
    value *= 0xbf58476d1ce4e5b9ull;
    value ^= value >> 27;
    value *= 0x94d049bb133111ebull;
    value ^= value >> 31;
    return value;
}

}  // namespace

std::uint64_t claim_weight(std::string_view id, std::string_view node) {
    std::uint64_t hash = fnv1a(kFnvOffset, id);
    hash ^= kSeparator;
    hash *= kFnvPrime;
    return mix(fnv1a(hash, node));
}

std::string claim_home(std::string_view id, const std::string& self, const std::vector<std::string>& live_peers) {
    const std::string* home = &self;
    std::uint64_t heaviest = claim_weight(id, self);
    for (const std::string& peer : live_peers) {
        std::uint64_t weight = claim_weight(id, peer);
        if (weight > heaviest || (weight == heaviest && peer < *home)) {
            home = &peer;
            heaviest = weight;
        }
    }
    return *home;
}

}  // namespace zq::node
