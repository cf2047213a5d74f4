// The claim ledger: at an id's home (claim_home.hpp), which node of the cluster holds each job
// id, so that an id submitted to several nodes runs on one.
//
// The first node to claim an id holds it; a claim of an id by the node that already holds it
// is granted again (claims are resent until answered). The ledger is the journal's `claims`
// table plus the jobs table: a job this node accepted itself counts as held by this node, and
// a job another node forwarded here as held by that node, without a row of its own. Every
// write joins the turn's transaction like any other journal write, so a decision is durable
// before the answer (CLAIMED) leaves the node, and a failed commit takes it back with the
// rest of the turn. Rows are purged with the same retention as terminal jobs.
//
// A node also records here the decisions it learns from other homes (a claim it lost, or a
// decision handed back), so that it can answer for them if it becomes their home later.
//
// Hand-back: while a node is away, the ids it is home for are decided by the next heaviest
// live node (claim_home.hpp). That node notes each such decision for the absent home
// (hand_back_later), and hands them over when the home is back (owed_to, handed_back), so
// that the returning home does not grant again an id decided in its absence.
#pragma once

#include "journal.hpp"

#include <zq/job.hpp>
#include <zq/result.hpp>

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace zq::node {

// Which node holds a claimed id; `state` is its job's state when that node is this one and
// the journal says (the answer can then name it).
struct ClaimDecision {
    std::string holder;
    std::optional<JobState> state;
};

class ClaimLedger {
public:
    ClaimLedger(Journal& journal, std::string self);

    // Reads whether the journal keeps any claim (claim_needed() before the first claim).
    Status load();
    // Whether this node must ask the ledger about its own submissions even while it has no
    // live peer: it does once it has recorded a claim, as a member of a cluster.
    bool empty() const { return empty_; }

    // `node` claims `id` at `now_ms`. The answer names the node that holds it: a recorded
    // claim's node, else the holder of a job the journal has, else `node`, which is then
    // recorded. This node's own claim (at a submission, or a claim that came home) is never
    // recorded: the job it journals is the record.
    Result<ClaimDecision> claim(std::string_view id, const std::string& node, std::int64_t now_ms);
    // Records what another home decided (`holder` holds `id`), unless a decision is recorded.
    Status learn(std::string_view id, std::string_view holder, std::int64_t now_ms);

    // This node decided that `holder` holds `id` in place of `home`, which is away: `home`
    // is owed the decision until handed_back(home).
    Status hand_back_later(std::string_view id, std::string_view holder, const std::string& home, std::int64_t now_ms);
    bool owes(std::string_view home) const { return owed_.find(home) != owed_.end(); }
    const std::set<std::string, std::less<>>& owed_homes() const { return owed_; }
    // The decisions owed to `home`: (id, holder).
    Result<std::vector<std::pair<std::string, std::string>>> owed_to(std::string_view home);
    // `home` has them: they are owed no more.
    Status handed_back(std::string_view home);

private:
    Journal& journal_;
    std::string self_;
    bool empty_ = true;
    std::set<std::string, std::less<>> owed_;  // homes some decision is owed to
};

}  // namespace zq::node
