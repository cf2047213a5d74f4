// The turn: what one turn of the node's loop will do once its journal writes are committed.
//
// While a turn handles messages, nothing it decides leaves the node: submissions accepted,
// jobs about to start on a worker, jobs finished, replies to clients, messages to peers,
// broadcasts to publish and job events all wait here. The dispatcher commits the journal
// once, then sends the turn; so nothing is acknowledged, run or told before it is durable.
// If the commit fails, fail() says what to undo: the submissions to reject and forget, the
// jobs to put back in the queue, and the outcomes to journal again, which the next turn
// carries (rewrite_later) until the journal takes them.
#pragma once

#include "job_event.hpp"
#include "job_table.hpp"
#include "outgoing.hpp"

#include <zq/protocol.hpp>
#include <zq/result.hpp>

#include <string>
#include <vector>

namespace zq::node {

class Turn {
public:
    // A submission this turn accepted; `client` is empty for a job a peer sent (forwarded,
    // or a broadcast's run), which TAKEN answers instead of ACCEPTED.
    struct Accepted {
        Job* job;
        std::string client;
    };
    struct Started {
        Job* job;
        WorkerId worker;
    };

    void accept(Job& job, std::string client);
    // Whether the job was accepted in this turn (a second submission of it waits as well).
    bool accepts(const Job& job) const;
    void start(Job& job, WorkerId worker);
    void finish(Job& job);
    // The job was placed on a peer: its row names the owner before the FORWARD goes out, so
    // that a restart asks that owner rather than placing it again (written again if the
    // commit fails, as the FORWARD is sent again from the peer outbox).
    void place(Job& job);
    void publish(Job& broadcast);
    void reply(std::string client, protocol::Command command, std::string body);
    void to_peer(std::string node, protocol::Command command, std::string body);
    void event(JobEvent event);
    // A broadcast's outcomes so far were journaled (written again if the commit fails).
    void outcomes_written(std::string broadcast_id);
    // Notes a journal write of this turn; the first failure fails the whole turn.
    void journal_write(const Status& status);

    const std::vector<Accepted>& accepted() const { return accepted_; }
    const std::vector<Started>& started() const { return started_; }
    const std::vector<Job*>& finished() const { return finished_; }
    const std::vector<Job*>& broadcasts() const { return broadcasts_; }
    const std::vector<ClientMessage>& replies() const { return replies_; }
    const std::vector<PeerMessage>& to_peers() const { return to_peers_; }
    const std::vector<JobEvent>& events() const { return events_; }
    bool wrote() const { return wrote_; }
    const std::string& journal_error() const { return journal_error_; }
    bool empty() const;

    // What a failed commit leaves to undo. Afterwards the turn holds only its replies: the
    // journal never had the rest, and no peer or worker may hear of it.
    struct Undo {
        std::vector<Accepted> rejected;               // each submission by a client, in order
        std::vector<Job*> dropped;                    // each accepted job once: the journal does not have it
        std::vector<Started> put_back;                // the other jobs about to start, last started first
        std::vector<Job*> unwritten;                  // finished jobs whose outcome the journal lost
        std::vector<std::string> unwritten_outcomes;  // broadcasts whose outcomes it lost
        std::vector<Job*> unwritten_placements;       // jobs placed on peers, owner not journaled
    };
    Undo fail();

    // Outcomes a failed commit left unwritten; this turn journals them again first.
    void rewrite_later(std::vector<Job*> jobs, std::vector<std::string> outcomes);
    void rewrite_placements_later(std::vector<Job*> jobs);
    bool has_rewrites() const {
        return !unwritten_.empty() || !unwritten_outcomes_.empty() || !unwritten_placements_.empty();
    }
    struct Rewrites {
        std::vector<Job*> jobs;
        std::vector<std::string> outcomes;
        std::vector<Job*> placements;
    };
    Rewrites take_rewrites();

private:
    std::vector<Accepted> accepted_;
    std::vector<Started> started_;
    std::vector<Job*> finished_;
    std::vector<Job*> placed_;
    std::vector<Job*> broadcasts_;
    std::vector<ClientMessage> replies_;
    std::vector<PeerMessage> to_peers_;
    std::vector<JobEvent> events_;
    std::vector<std::string> outcome_writes_;
    bool wrote_ = false;         // the journal has uncommitted writes
    std::string journal_error_;  // the first journal failure of the turn
    std::vector<Job*> unwritten_;
    std::vector<std::string> unwritten_outcomes_;
    std::vector<Job*> unwritten_placements_;
};

}  // namespace zq::node
