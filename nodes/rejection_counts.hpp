// How many REJECTED answers the node has sent, by kind (zq/rejection.hpp): the counts that
// `zq-node status` shows as `messages.rejected` (the sum) and `messages.rejected_by`.
#pragma once

#include <zq/rejection.hpp>

#include <nlohmann/json.hpp>

#include <array>
#include <cstdint>
#include <string_view>

namespace zq::node {

class RejectionCounts {
public:
    // Counts one REJECTED with this `why`.
    void count(std::string_view reason);
    // Every REJECTED counted here.
    std::uint64_t total() const { return total_; }
    std::uint64_t of_kind(std::size_t kind) const { return counts_.at(kind); }
    // {kind name: count} for every kind, "other" included (which should stay 0).
    nlohmann::json json() const;

private:
    // One slot per kind, and a last one for a reason of no known kind.
    std::array<std::uint64_t, protocol::kRejectionKinds + 1> counts_{};
    std::uint64_t total_ = 0;
};

}  // namespace zq::node
