// The key outbox: at an origin, the jobs that must hold slots of their locks (key_policy.hpp)
// before they are queued, which slots each holds, and the one it is asking for now.
//
// A job asks for its locks one at a time, in order; it is *admitted* once it holds them all,
// and keeps them until it ends (retries included). Each lock's home (claim_home.hpp) grants
// the slots; the outbox remembers which home it asked, so that a home that changes (lost,
// joined) is asked again, and it lists, per home, everything this node holds or waits for
// there (requests_for), which the dispatcher sends every heartbeat interval so that a home
// that restarted or took over rebuilds its ledger. Pure, like the claim outbox: the
// dispatcher sends what it returns.
#pragma once

#include "key_ledger.hpp"
#include "key_policy.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace zq::node {

class KeyOutbox {
public:
    using HomeOf = std::function<std::string(std::string_view lock)>;
    // A slot held or asked for, at the home it belongs to now.
    struct Slot {
        std::string home;
        std::string lock;
    };

    explicit KeyOutbox(std::string self) : self_(std::move(self)) {}

    // Job `id` needs `locks` (not empty) before it is queued; it asks for the first.
    void add(const std::string& id, std::vector<KeyLock> locks);
    // Job `id` holds all of `locks` already (read back from the journal at a restart).
    void add_admitted(const std::string& id, std::vector<KeyLock> locks);
    bool holds(std::string_view id) const { return jobs_.find(id) != jobs_.end(); }
    bool admitted(std::string_view id) const;
    bool empty() const { return jobs_.empty(); }
    std::size_t size() const { return jobs_.size(); }

    // The request for the lock job `id` asks for now, or nothing (admitted, unknown).
    std::optional<KeyRequest> asking(std::string_view id) const;
    // The home asked for that lock ("" while none is known).
    void asked(std::string_view id, std::string home);
    // An answer for `lock` of job `id`. Granted: the job moves on to its next lock (true when
    // the answer was for the lock it asks for now). Other answers change nothing here.
    bool granted(std::string_view id, std::string_view lock);
    // Whether `lock` is the lock job `id` asks for now.
    bool asks_for(std::string_view id, std::string_view lock) const;
    // A waiting job's reason, for status.
    void set_reason(std::string_view id, std::string why);
    // Whether the client's first answer (ACCEPTED) waits for the home's verdict.
    void hold_answer(std::string_view id, std::string client);
    std::vector<std::string> take_answer_clients(std::string_view id);

    // The job ended: every slot it held or asked for, at its home now (`home_of`), so that
    // each is released there.
    std::vector<Slot> remove(std::string_view id, const HomeOf& home_of);

    // Re-evaluates every home. Returns the jobs whose current lock's home changed (they must
    // ask again), in the order they were added.
    std::vector<std::string> rehome(const HomeOf& home_of);
    // Everything this node holds or waits for, by home (each list in the order the jobs were
    // added: held slots and requests). Homes "" (unknown) are left out.
    std::map<std::string, std::vector<KeyRequest>> requests_by_home(const HomeOf& home_of) const;

    // Jobs not yet admitted, with the reason they wait.
    std::vector<std::pair<std::string, std::string>> waiting() const;

private:
    struct Job {
        std::uint64_t order = 0;
        std::vector<KeyLock> locks;
        std::size_t granted = 0;  // locks[0, granted) are held
        std::string home;         // the home asked for locks[granted]
        std::string why;
        std::vector<std::string> answer_clients;
    };
    KeyRequest request(const std::string& id, const Job& job, std::size_t index) const;
    std::vector<const std::pair<const std::string, Job>*> in_order() const;

    std::string self_;
    std::uint64_t next_order_ = 0;
    std::map<std::string, Job, std::less<>> jobs_;
};

}  // namespace zq::node
