#include "claim_outbox.hpp"

namespace zq::node {
namespace {

// What one id adds to a CLAIM body besides its bytes: a msgpack string header.
constexpr std::size_t kIdOverheadBytes = 5;

}  // namespace

// Groups ids by home, starting another batch for a home when its last one is full.
class ClaimOutbox::Batcher {
public:
    explicit Batcher(std::size_t max_batch_bytes) : max_batch_bytes_(max_batch_bytes) {}

    void add(const std::string& home, const std::string& id) {
        const std::size_t cost = id.size() + kIdOverheadBytes;
        auto [open, first] = open_.try_emplace(home);
        if (first || open->second.bytes + cost > max_batch_bytes_) {
            batches_.push_back({home, {}});
            open->second = {batches_.size() - 1, 0};
        }
        batches_[open->second.index].ids.push_back(id);
        open->second.bytes += cost;
    }
    std::vector<Batch> take() { return std::move(batches_); }

private:
    struct Open {
        std::size_t index = 0;
        std::size_t bytes = 0;
    };
    std::size_t max_batch_bytes_;
    std::vector<Batch> batches_;
    std::map<std::string, Open, std::less<>> open_;
};

void ClaimOutbox::add(const std::string& id, std::string home) {
    Claim& claim = claims_[id];
    claim.home = std::move(home);
    claim.sent_ms = 0;
    unsent_.push_back(id);
}

void ClaimOutbox::add_waiter(std::string_view id, Waiter waiter) {
    if (auto found = claims_.find(id); found != claims_.end()) found->second.waiters.push_back(std::move(waiter));
}

std::vector<ClaimOutbox::Batch> ClaimOutbox::take_unsent(std::int64_t now_ms, std::size_t max_batch_bytes) {
    Batcher batches(max_batch_bytes);
    for (const std::string& id : unsent_) {
        auto found = claims_.find(id);
        if (found == claims_.end()) continue;  // answered or forgotten meanwhile
        Claim& claim = found->second;
        if (claim.sent_ms != 0 || claim.home.empty() || claim.home == self_) continue;
        claim.sent_ms = now_ms;
        batches.add(claim.home, id);
    }
    unsent_.clear();
    return batches.take();
}

std::vector<ClaimOutbox::Batch> ClaimOutbox::take_due(std::int64_t now_ms, std::int64_t interval_ms, const Alive& alive,
                                                      std::size_t max_batch_bytes) {
    Batcher batches(max_batch_bytes);
    for (auto& [id, claim] : claims_) {
        if (claim.sent_ms == 0 || now_ms - claim.sent_ms < interval_ms || !alive(claim.home)) continue;
        claim.sent_ms = now_ms;
        batches.add(claim.home, id);
    }
    return batches.take();
}

std::vector<std::string> ClaimOutbox::rehome(const HomeOf& home_of) {
    std::vector<std::string> here;
    for (auto& [id, claim] : claims_) {
        std::string home = home_of(id);
        if (home != claim.home) {
            claim.home = std::move(home);
            claim.sent_ms = 0;
            unsent_.push_back(id);
        }
        if (claim.home == self_) here.push_back(id);
    }
    return here;
}

std::optional<std::vector<ClaimOutbox::Waiter>> ClaimOutbox::resolve(std::string_view id) {
    auto found = claims_.find(id);
    if (found == claims_.end()) return std::nullopt;
    std::vector<Waiter> waiters = std::move(found->second.waiters);
    claims_.erase(found);
    return waiters;
}

void ClaimOutbox::forget(std::string_view id) {
    if (auto found = claims_.find(id); found != claims_.end()) claims_.erase(found);
}

}  // namespace zq::node
