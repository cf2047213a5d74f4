// The broadcast collector: at a broadcast's origin, each target node's outcome until all
// are in (see "Fanout" in docs/protocol.md).
//
// A broadcast ID is journaled at its origin as a job whose result is the map of outcomes by
// node, {NODE: {st, res?, err?}}, every one pending at first. Each target runs it as the job
// ID@NODE and reports like a forwarded job; the collector records each outcome (cut to a
// bound so that all of them fit one message), says when the broadcast is complete and how it
// ended, and which targets have not taken their run yet and should hear it again.
#pragma once

#include <zq/job.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace zq::node {

// A broadcast's run on one node is the job "ID@NODE". Node names and job ids may not contain
// '@', so the first one separates them.
inline constexpr char kRunSeparator = '@';
std::string run_id(std::string_view broadcast_id, std::string_view node);
// The broadcast id of a run id, empty for any other id.
std::string_view broadcast_of_run(std::string_view run_id);

// One node's outcome of a broadcast.
struct Outcome {
    JobState state = JobState::pending;
    std::string result;  // msgpack
    std::string error;

    bool operator==(const Outcome&) const = default;
};
using Outcomes = std::map<std::string, Outcome>;  // by target node

// Every target pending: the outcomes of a broadcast nobody has answered yet.
Outcomes pending_outcomes(const std::vector<std::string>& targets);
// The broadcast's result as journaled and sent: {NODE: {st, res?, err?}}.
std::string pack_outcomes(const Outcomes& outcomes);
// Reads a packed result back; what it cannot read is left out.
Outcomes unpack_outcomes(std::string_view packed);

class BroadcastCollector {
public:
    // `self` is this node (its own run reports in memory, never over a link); outcomes are
    // bounded so that all of them fill at most half of `max_message_bytes`.
    BroadcastCollector(std::string self, std::size_t max_message_bytes);

    // A broadcast this node originates; the other targets have yet to take their runs.
    void open(const std::string& id, Outcomes outcomes);
    // After a restart, from the journaled result: the targets still pending hear it again.
    void restore(const std::string& id, std::string_view packed);
    // Forgets a broadcast the journal never took (its commit failed).
    void drop(std::string_view id);
    bool holds(std::string_view id) const;
    std::size_t size() const { return runs_.size(); }
    // The outcomes so far, or nullptr for a broadcast not collected here.
    const Outcomes* outcomes(std::string_view id) const;

    // "ID@NODE" as a run of a broadcast collected here.
    struct Run {
        std::string broadcast;
        std::string node;
    };
    std::optional<Run> run_of(std::string_view run_id) const;
    // The node has its run (TAKEN, or a report): it needs the broadcast no more.
    void taken(const Run& run);

    struct Recorded {
        enum class Kind {
            unknown,   // no such broadcast here (it has ended): a late outcome
            ignored,   // not a target, or its outcome is in already
            open,      // recorded; other targets are still pending
            complete,  // recorded, and it was the last: the broadcast has ended
        };
        Kind kind = Kind::unknown;
        std::string outcomes;                // packed, when open or complete
        JobState state = JobState::pending;  // when complete: succeeded, or failed
        std::string explanation;             // when failed: which nodes did not succeed
    };
    // Records a node's terminal outcome; a complete broadcast is no longer collected.
    Recorded record(const std::string& id, const std::string& node, JobState state, std::string_view result,
                    std::string_view error);

    // The broadcasts still waiting for `node`'s outcome (to fail them when it is lost).
    std::vector<std::string> waiting_for(const std::string& node) const;
    // Every other node whose outcome is still pending.
    std::set<std::string> pending_nodes() const;

    // The broadcast went out (published) at `now_ms`.
    void sent(std::string_view id, std::int64_t now_ms);
    // The broadcasts that some target has not taken `interval_ms` after they were last sent,
    // with those targets; each is stamped as sent now.
    struct Resend {
        std::string id;
        std::vector<std::string> nodes;
    };
    std::vector<Resend> due(std::int64_t now_ms, std::int64_t interval_ms);

private:
    struct Collecting {
        Outcomes outcomes;
        std::set<std::string> untaken;  // targets that have not taken their run
        std::int64_t sent_ms = 0;       // of the last publish or resend
    };
    // An outcome's result kept here is at most this many bytes (the whole result stays in
    // that node's job ID@NODE).
    std::size_t result_limit(const Collecting& run) const;
    static Recorded completion(const Outcomes& outcomes);

    std::string self_;
    std::size_t max_message_bytes_;
    std::map<std::string, Collecting, std::less<>> runs_;
};

}  // namespace zq::node
