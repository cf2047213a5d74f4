#include "claim_ledger.hpp"

namespace zq::node {

ClaimLedger::ClaimLedger(Journal& journal, std::string self) : journal_(journal), self_(std::move(self)) {}

Status ClaimLedger::load() {
    auto any = journal_.has_claims();
    if (!any) return Error{any.error()};
    empty_ = !*any;
    auto homes = journal_.hinted_homes();
    if (!homes) return Error{homes.error()};
    owed_ = {homes->begin(), homes->end()};
    return success();
}

Result<ClaimDecision> ClaimLedger::claim(std::string_view id, const std::string& node, std::int64_t now_ms) {
    auto recorded = journal_.find_claim(id);
    if (!recorded) return recorded.failure();
    if (*recorded) return ClaimDecision{std::move(**recorded), std::nullopt};
    // This node's own claim: the job it holds or is about to journal is the record. (A job
    // of another node's that runs here was journaled under that node's claim.)
    if (node == self_) return ClaimDecision{self_, std::nullopt};
    auto job = journal_.find_job_holder(id);
    if (!job) return job.failure();
    if (*job) {
        if ((*job)->origin.empty()) return ClaimDecision{self_, (*job)->state};
        return ClaimDecision{std::move((*job)->origin), std::nullopt};
    }
    auto inserted = journal_.insert_claim(id, node, now_ms);
    if (!inserted) return inserted.failure();
    empty_ = false;
    return ClaimDecision{node, std::nullopt};
}

Status ClaimLedger::learn(std::string_view id, std::string_view holder, std::int64_t now_ms) {
    auto inserted = journal_.insert_claim(id, holder, now_ms);
    if (!inserted) return Error{inserted.error()};
    empty_ = false;
    return success();
}

Status ClaimLedger::hand_back_later(std::string_view id, std::string_view holder, const std::string& home,
                                    std::int64_t now_ms) {
    if (auto noted = journal_.hand_back_later(id, holder, home, now_ms); !noted) return noted;
    empty_ = false;
    owed_.insert(home);
    return success();
}

Result<std::vector<std::pair<std::string, std::string>>> ClaimLedger::owed_to(std::string_view home) {
    return journal_.hints_for(home);
}

Status ClaimLedger::handed_back(std::string_view home) {
    if (auto cleared = journal_.clear_hints(home); !cleared) return cleared;
    if (auto found = owed_.find(home); found != owed_.end()) owed_.erase(found);
    return success();
}

}  // namespace zq::node
