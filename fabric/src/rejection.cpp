#include <zq/rejection.hpp>

namespace zq::protocol {

std::size_t rejection_kind(std::string_view reason) {
    for (std::size_t kind = 0; kind < kRejectionKinds; ++kind) {
        if (reason.starts_with(kRejections[kind].prefix)) return kind;
    }
    return kRejectionKinds;
}

std::string_view rejection_name(std::size_t kind) {
    if (kind >= kRejectionKinds) return "other";
    std::string_view prefix = kRejections[kind].prefix;
    if (prefix.ends_with(':')) prefix.remove_suffix(1);
    return prefix;
}

}  // namespace zq::protocol
