// The key ledger: at a lock's home, which jobs hold its slots and which wait for one, in the
// order they asked (docs/architecture.md, "Keys: uniqueness and throttles").
//
// A lock is a job key ("key:K") or a queue with a cluster-wide limit ("queue:Q"), see
// key_policy.hpp. The origins of the jobs ask the lock's home (KEY-ACQUIRE); the home answers
// each job granted, waiting or dropped (KEY-ANSWER) and grants the next waiter when a holder
// is released (KEY-RELEASE) or its origin is lost. The ledger is memory only: when a home is
// lost or restarts, the origins announce again what they hold and what they wait for
// (sync()), and the new home rebuilds it from that. Pure: no clock, socket or journal, so
// tests/test_key_ledger.cpp drives it alone.
#pragma once

#include "key_policy.hpp"

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace zq::node {

struct KeyRequest {
    std::string id;
    std::string lock;
    std::string origin;
    KeyPolicy policy = KeyPolicy::parallel;
    std::uint32_t limit = 1;
    // The origin says the job holds the slot already (it was granted by an earlier home):
    // it is counted as a holder whatever the limit, and never dropped.
    bool held = false;
};

enum class KeyVerdict : std::uint8_t { granted, waiting, dropped };
std::string_view to_string(KeyVerdict verdict);

struct KeyAnswer {
    std::string origin;  // the node to tell
    std::string id;
    std::string lock;
    KeyVerdict verdict = KeyVerdict::waiting;
    std::string why;    // waiting: "key K: 1 of 1 running"; dropped: "duplicate of ID (key K)"
    std::string dedup;  // dropped: the job it duplicates
};

class KeyLedger {
public:
    // The answer to one request (idempotent: a job asking again hears where it stands), in
    // a list of at most one; empty while grants are held and the job waits (the home does not
    // know every holder yet, so it gives no verdict).
    std::vector<KeyAnswer> acquire(const KeyRequest& request);
    // The job ended (or gave up waiting): its slot or place goes, and the next waiters in
    // order are granted. Returns their answers.
    std::vector<KeyAnswer> release(std::string_view lock, std::string_view id);
    // Everything an origin held and waited for goes (the origin was lost or restarted).
    std::vector<KeyAnswer> forget_origin(std::string_view origin);
    // The origin's complete list for this home: its entries not listed go, the listed ones
    // are acquired (in the list's order). Returns the answers to the origin and any grants
    // to other origins that the removals made.
    std::vector<KeyAnswer> sync(std::string_view origin, const std::vector<KeyRequest>& requests);

    // While grants are held (a home that just took over, or just started, and has not yet
    // heard every origin's held slots), new requests wait and nothing is granted, so that a
    // slot still held somewhere is not given out twice. Releasing the hold grants the waiters
    // in order, as far as the limits allow, and tells the others they wait.
    void hold_grants() { holding_ = true; }
    std::vector<KeyAnswer> release_hold();
    bool holding() const { return holding_; }

    std::size_t holders(std::string_view lock) const;
    std::size_t waiters(std::string_view lock) const;
    bool empty() const { return locks_.empty(); }
    // "key K: 1 of 1 running" (queues add "in the cluster"), for a waiting job's reason.
    std::string describe(std::string_view lock) const;

private:
    struct Entry {
        std::string id;
        std::string origin;
    };
    struct Lock {
        std::uint32_t limit = 1;
        std::vector<Entry> holders;
        std::deque<Entry> waiters;
    };
    using Locks = std::map<std::string, Lock, std::less<>>;

    KeyAnswer answer(const std::string& lock_name, const Lock& lock, const Entry& entry, KeyVerdict verdict) const;
    // Grants waiters in order while slots are free; drops the lock once nothing is left.
    void promote(Locks::iterator lock, std::vector<KeyAnswer>& answers);

    Locks locks_;
    bool holding_ = false;
};

}  // namespace zq::node
