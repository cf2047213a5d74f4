// The claim outbox: at an origin, the jobs waiting for their id's home to say which node holds
// the id (claim_ledger.hpp), and the clients waiting for that answer.
//
// A job whose home is another node is journaled `accepted` and waits here; nothing runs and
// its ACCEPTED waits too. Claims are sent in one CLAIM per home per turn (take_unsent), sent
// again while unanswered (take_due), and sent to a new home when membership changes the home
// (rehome). A claim whose home is this node is decided here, by the dispatcher, without a
// message. While the node does not know its cluster yet (just started), a claim has no home
// ("") and waits for rehome(). Like the peer outbox, it holds what is due and the dispatcher
// sends it with its turn, after the commit.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace zq::node {

class ClaimOutbox {
public:
    // A client that hears the answer as ACCEPTED: the submitter (duplicate false), or one who
    // submitted the same id again while the claim was out (duplicate true).
    struct Waiter {
        std::string client;
        bool duplicate = false;
    };
    // One CLAIM: ids for one home.
    struct Batch {
        std::string home;
        std::vector<std::string> ids;
    };
    using Alive = std::function<bool(std::string_view node)>;
    using HomeOf = std::function<std::string(std::string_view id)>;

    explicit ClaimOutbox(std::string self) : self_(std::move(self)) {}

    // Job `id` waits for `home`'s answer ("" while the cluster is not known yet).
    void add(const std::string& id, std::string home);
    void add_waiter(std::string_view id, Waiter waiter);
    bool holds(std::string_view id) const { return claims_.find(id) != claims_.end(); }
    bool empty() const { return claims_.empty(); }
    std::size_t size() const { return claims_.size(); }
    // Whether some claim was added or rehomed since the last take_unsent().
    bool has_unsent() const { return !unsent_.empty(); }

    // The claims not sent yet, one batch per home (at most `max_batch_bytes` of ids each),
    // stamped as sent at `now_ms`. Claims homed here or nowhere stay.
    std::vector<Batch> take_unsent(std::int64_t now_ms, std::size_t max_batch_bytes);
    // The claims sent at least `interval_ms` ago to a home that is alive, stamped as sent now.
    std::vector<Batch> take_due(std::int64_t now_ms, std::int64_t interval_ms, const Alive& alive,
                                std::size_t max_batch_bytes);
    // Gives every claim its home now. A claim whose home changed is unsent again (the old home
    // was lost, or the view of the cluster changed). Returns the ids homed at this node, which
    // the dispatcher decides itself.
    std::vector<std::string> rehome(const HomeOf& home_of);
    // The answer came: the claim is no longer awaited. Returns its waiters, or nothing when it
    // was not awaited (an answer to a claim sent twice).
    std::optional<std::vector<Waiter>> resolve(std::string_view id);
    // The job went (its commit failed, or it was dropped): nobody waits for its claim.
    void forget(std::string_view id);

private:
    struct Claim {
        std::string home;
        std::int64_t sent_ms = 0;  // steady clock; 0 = not sent to this home yet
        std::vector<Waiter> waiters;
    };
    class Batcher;

    std::string self_;
    std::map<std::string, Claim, std::less<>> claims_;
    std::vector<std::string> unsent_;  // ids added or rehomed since the last take_unsent
};

}  // namespace zq::node
