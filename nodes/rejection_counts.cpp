#include "rejection_counts.hpp"

namespace zq::node {

void RejectionCounts::count(std::string_view reason) {
    ++counts_[protocol::rejection_kind(reason)];
    ++total_;
}

nlohmann::json RejectionCounts::json() const {
    nlohmann::json counts = nlohmann::json::object();
    for (std::size_t kind = 0; kind < counts_.size(); ++kind) {
        counts[std::string(protocol::rejection_name(kind))] = counts_[kind];
    }
    return counts;
}

}  // namespace zq::node
