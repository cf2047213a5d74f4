// The dispatcher: owner of every job the node holds and of its life cycle.
//
// It accepts submissions, queues them by priority, hands them to free workers, records
// outcomes and answers the clients that watch them. Every state change is written to the
// journal inside the current turn's transaction; replies and RUN frames wait in the turn and
// go out only after end_turn() has committed, so nothing is acknowledged before it is durable.
// If the commit fails, new submissions of the turn are rejected with the journal's reason,
// jobs about to start go back to the queue, and finished jobs are journaled again later.
//
// The parts live in three files: dispatcher.cpp (jobs on this node and the turn),
// dispatcher_cluster.cpp (placement on peers, reports, reaping) and dispatcher_broadcast.cpp.
//
// In a cluster the dispatcher is both origin and owner. As origin it places each ready job
// (placement.hpp): on a local worker, forwarded to a peer (FORWARD, answered by TAKEN), kept
// queued here, or `waiting` with a reason until capacity returns; it journals the states the
// owner reports (STATE), acknowledges terminal ones (STATE-ACK), and fails the jobs of a
// peer that is lost, left or restarted. As owner it journals a forwarded job before TAKEN,
// runs it, and resends its terminal STATE until the origin acknowledges it. Messages to
// peers wait for the commit exactly like replies to clients.
#pragma once

#include "config.hpp"
#include "event_loop.hpp"
#include "journal.hpp"
#include "placement.hpp"
#include "pool.hpp"
#include "publisher.hpp"

#include <zq/codec.hpp>
#include <zq/task.hpp>

#include <array>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace zq::node {

// Sends one message to a client (by ROUTER identity); false when it could not be delivered.
using ReplySender = std::function<bool(const std::string& client, protocol::Command, std::string_view body)>;

// How the dispatcher reaches the other nodes (membership owns the links and the peer list).
struct PeerLinks {
    std::function<std::vector<PeerView>()> views;
    // Sends on the link to the named peer; false when it could not be sent now.
    std::function<bool(std::string_view name, protocol::Command, std::string_view body)> send;
    std::function<bool(std::string_view name)> alive;
    // One job was forwarded to the peer: one free worker fewer until its next heartbeat.
    std::function<void(std::string_view name)> take_capacity;
};

class Dispatcher {
public:
    Dispatcher(uv_loop_t* loop, const Config& config, Journal& journal, Pool& pool, ReplySender send);

    // Joins the dispatcher to the cluster; without links every job is placed here. Starts
    // the timer that resends what peers have not acknowledged (FORWARD, STATE, CANCEL).
    void set_peer_links(PeerLinks links);

    // Job events and broadcasts go out on this publisher (it outlives the dispatcher).
    void set_publisher(Publisher& publisher) { publisher_ = &publisher; }

    // At start-up: jobs the journal shows as running are failed ("node restarted while the
    // job was running"), queued ones are queued again, canceled requests are honoured.
    Status recover();

    // Client requests; the message is already decoded and type-checked.
    void submit(const std::string& client, const Message& message);
    void cancel(const std::string& client, const Message& message);
    // Sends STATE to the client when the job is terminal (at once if it already is); false
    // when the node has no such job.
    bool watch(const std::string& client, std::string_view id);
    // The job as the node knows it (memory first, then the journal).
    Result<JobRecord> find(std::string_view id);

    // Broadcasts (dispatcher_broadcast.cpp). A client's BROADCAST: journaled here as a job
    // with target "*" whose result collects each node's outcome, run here too, and published
    // after the commit to the nodes alive now.
    void broadcast(const std::string& client, const Message& message);
    // A published, repaired or resent BROADCAST of a peer: run once here as ID@NODE if this
    // node is one of its targets, and reported to the origin like a forwarded job.
    void on_broadcast(const Message& message);

    // Peer messages (arriving on the client port from a peer's link).
    void on_forward(const Message& message);    // owner: run this job for its origin
    void on_taken(const Message& message);      // origin: the owner journaled the job
    void on_peer_state(const Message& message);  // origin: the owner reports a transition
    void on_state_ack(const Message& message);  // owner: the origin journaled the outcome
    // Fails every unfinished job placed on `node` with `explanation` (lost, left, restarted).
    // Fails the unfinished jobs placed on `node`. For a node that restarted, only the running
    // ones: the queued jobs it journaled are resumed by it and reported as usual.
    void reap_node(const std::string& node, const std::string& explanation, bool running_only = false);
    // Capacity or membership changed: waiting and queued jobs are placed again this turn.
    void placement_changed() { placement_dirty_ = true; }
    // Jobs waiting for capacity, with the reason, for status.
    std::vector<std::pair<std::string, std::string>> waiting_jobs() const;

    // Pool events.
    void on_task_done(std::string_view id, bool ok, std::string_view result, std::string_view error,
                      StopReason reason);
    void on_worker_lost(std::string_view id, const std::string& explanation, StopReason reason);
    // A job handed to a worker that never started it: queued again at the front (or
    // canceled, if a cancel is what took it back).
    void on_task_returned(std::string_view id);

    // End of a loop turn: start what can start, commit the journal, then send.
    void end_turn();

    // For status and control.
    std::vector<std::string> running_jobs() const;
    const std::array<std::uint64_t, 10>& counts_by_state() const { return counts_; }
    std::size_t pending() const { return active_.size(); }
    std::uint64_t rejected_count() const { return rejected_; }
    // Replies and peer messages that could not be handed to zmq (client gone, queue full).
    std::uint64_t undeliverable_count() const { return undeliverable_; }
    // Reads the counts by state from the journal again (after a purge).
    void recount_states();
    // Fails what still runs with `explanation` (graceful shutdown after the grace period).
    // Also cancels the runs of other nodes' broadcasts still queued here.
    void fail_running(const std::string& explanation);
    // Queues a reply that goes out with this turn's other replies, after the commit.
    void reply(const std::string& client, protocol::Command command, std::string body);
    // CONTROL-REPLY {rid, ok: true, data: job map}.
    void reply_job(const std::string& client, std::uint64_t request_id, const JobRecord& job);

private:
    struct Job {
        JobRecord record;
        std::vector<std::string> watchers;  // clients waiting for the outcome
        WorkerId worker = 0;
        // At the origin, for a job placed on a peer: the owner, whether it answered TAKEN,
        // and when FORWARD was last sent (steady ms).
        std::string owner;
        bool taken = false;
        std::int64_t forwarded_ms = 0;
        std::string wait_reason;  // why it is waiting (logged when it changes)
        bool returned = false;    // taken back from a worker unstarted: not prefetched again
    };
    struct PeerMessage {
        std::string node;
        protocol::Command command;
        std::string body;
    };
    // A terminal state reported to an origin that has not acknowledged it yet.
    struct Report {
        std::string origin;
        std::string body;
    };
    struct Outgoing {
        std::string client;
        protocol::Command command;
        std::string body;
    };
    // One node's outcome of a broadcast, at the origin.
    struct Outcome {
        JobState state = JobState::pending;
        std::string result;  // msgpack
        std::string error;
    };
    // A broadcast this node originated and is collecting outcomes for.
    struct BroadcastRun {
        std::map<std::string, Outcome> outcomes;  // by target node
        std::set<std::string> untaken;            // targets that have not answered TAKEN
        std::int64_t sent_ms = 0;                 // steady ms of the last publish or resend
    };
    // Everything a turn will do once its journal writes are committed.
    struct Turn {
        std::vector<Job*> accepted;
        std::vector<std::string> accepted_by;  // submitter of each accepted job
        std::vector<std::pair<Job*, WorkerId>> started;
        std::vector<Job*> finished;
        std::vector<Outgoing> replies;
        std::vector<PeerMessage> to_peers;
        std::vector<Job*> broadcasts;  // to publish
        std::vector<JobEvent> events;
        // Broadcasts whose outcomes so far were written this turn (written again if the
        // commit fails).
        std::vector<std::string> outcome_writes;
        bool wrote = false;         // the journal has uncommitted writes
        std::string journal_error;  // first journal failure of the turn
        bool empty() const {
            return accepted.empty() && started.empty() && finished.empty() && replies.empty() && to_peers.empty() &&
                   broadcasts.empty() && events.empty() && !wrote && journal_error.empty();
        }
    };

    Job* active(std::string_view id);
    void enqueue(Job& job);
    void remove_from_queue(Job& job);
    Job* pop_ready();
    void start_ready_jobs();
    // Hands ready jobs to idle workers, or with `prefetch` to workers with a free slot.
    void start_on_workers(bool prefetch);
    // How many tasks a worker may hold when this job is handed to it.
    std::size_t prefetch_for(const Job& job) const;
    // After a restart, jobs this node had placed on peers wait for their owners to be heard
    // from; an owner still silent after liveness × interval is reaped as lost.
    void reap_silent_owners();
    // Forwards queued jobs to peers with free workers and re-evaluates the waiting ones.
    void place_elsewhere();
    void forward_to(Job& job, const std::string& peer);
    // Journals and queues a job run here for `origin` (a forwarded job or a broadcast run),
    // answering TAKEN; a job it already has is answered TAKEN again and runs nothing.
    void run_for_origin(const std::string& origin, Task&& task);
    // Answers a SUBMIT or BROADCAST of an id this node holds; false when it holds none.
    bool answer_active(const std::string& client, const std::string& id, bool watch);
    // REJECTED's reason when max_pending jobs are held.
    std::string busy_reason() const;
    // Journals a new job submitted by `client` (SUBMIT or BROADCAST). An id the journal
    // already has (the job finished earlier) is answered as a duplicate, nothing runs, and
    // the result is false; so is a journal failure, answered REJECTED.
    bool insert_submitted(const std::string& client, const JobRecord& job, bool watch);
    void wait_for_capacity(Job& job, const std::string& reason);
    void write_envelope(BodyWriter& body, const JobRecord& job) const;
    std::string forward_body(const JobRecord& job) const;
    // Broadcast bookkeeping at the origin (dispatcher_broadcast.cpp).
    static bool is_broadcast(const JobRecord& job) { return job.target == "*"; }
    // "ID@NODE" -> the broadcast's run map and NODE, when ID is a broadcast of this origin.
    BroadcastRun* broadcast_run_of(std::string_view run_id, std::string* node);
    // A node's result kept in a broadcast's outcomes, at most this many bytes (the whole
    // result stays in that node's job ID@NODE).
    std::size_t outcome_result_limit(const BroadcastRun& run) const;
    void record_outcome(const std::string& id, const std::string& node, JobState state, std::string_view result,
                        std::string_view error);
    // The envelope and the targets; the publisher numbers it, a direct resend goes unnumbered.
    void write_broadcast(BodyWriter& body, const JobRecord& job, const BroadcastRun& run) const;
    void publish_broadcasts(const std::vector<Job*>& jobs);
    void resend_broadcasts();
    void restore_broadcast(Job& job);
    // Journals a broadcast's outcomes so far (its result), within the turn.
    void write_outcomes(Job& job);
    static std::string pack_outcomes(const BroadcastRun& run);
    static BroadcastRun unpack_outcomes(std::string_view packed);
    void note_event(const JobRecord& job);
    void to_peer(const std::string& node, protocol::Command command, std::string body);
    void acknowledge(const std::string& owner, std::string_view id);
    // Resends FORWARDs not yet TAKEN, terminal reports not yet acknowledged and cancels not
    // yet obeyed, to peers that are alive.
    void resend_to_peers();
    Status load_unacknowledged_reports();
    void change_state(Job& job, JobState state, std::string_view result = {}, std::string_view error = {});
    void finish(Job& job, JobState state, std::string_view result, std::string_view error);
    // Ends a job that did not succeed: canceled, or failed unless its retry policy allows
    // another attempt.
    void end_unsuccessful(Job& job, StopReason reason, const std::string& error);
    void schedule_retry(Job& job);
    void requeue_due_retries();
    RunRequest run_request(const Job& job) const;
    // The soft and hard limits that apply to a job: its own, else its task name's.
    std::pair<double, double> time_limits(const JobRecord& record) const;
    void journal_write(const Status& status);
    void add_watcher(Job& job, const std::string& client);
    void reply_accepted(const std::string& client, const JobRecord& job, bool duplicate);
    void reply_rejected(const std::string& client, std::string_view id, const std::string& reason);
    void reply_state(const std::string& client, const JobRecord& job);
    void commit_failed(Turn& turn, const std::string& reason);
    void send_turn(Turn& turn);
    void rejournal_unwritten();

    const Config& config_;
    Journal& journal_;
    Pool& pool_;
    ReplySender send_;
    std::unordered_map<std::string, std::unique_ptr<Job>> active_;
    // Ready jobs by priority (highest first), first come first served within a priority.
    std::map<std::int64_t, std::deque<Job*>, std::greater<>> ready_;
    std::size_t ready_count_ = 0;
    // Jobs this node may not run (another queue, another target): forwarded or waiting.
    std::vector<Job*> elsewhere_;
    bool placement_dirty_ = true;
    // This node as placement sees it (it never has a free worker there: the dispatcher
    // starts local work before it asks placement).
    LocalView local_;
    PeerLinks peers_;
    Timer peer_timer_;
    Timer owner_check_timer_;
    // Ids at the origin: forwarded but not yet TAKEN; canceled here but not yet obeyed.
    std::set<std::string> untaken_;
    std::set<std::string> cancels_sent_;
    // Ids at the owner: terminal reports the origin has not acknowledged.
    std::map<std::string, Report> unacknowledged_;
    std::array<std::uint64_t, 10> counts_{};
    Turn turn_;
    // Terminal jobs whose final state a failed commit did not record; written again.
    std::vector<Job*> unwritten_;
    std::vector<std::string> unwritten_outcomes_;
    Timer rejournal_timer_;
    // Jobs waiting out their retry delay, by the unix ms at which they are queued again.
    std::multimap<std::int64_t, Job*> retries_due_;
    Timer retry_timer_;
    std::uint64_t rejected_ = 0;
    std::uint64_t undeliverable_ = 0;
    Publisher* publisher_ = nullptr;
    // Broadcasts this node originated that still wait for outcomes, by id.
    std::map<std::string, BroadcastRun, std::less<>> broadcasts_;
};

// The body of STATE, and the job map in control replies: {id, st, task, node, res?, err?}.
void write_job(BodyWriter& body, const JobRecord& job);
// The broadcast id of a broadcast's run "ID@NODE" (empty for another id). Node names and
// job ids may not contain '@', so the first one separates them.
inline constexpr char kRunSeparator = '@';
inline std::string_view broadcast_of_run(std::string_view run_id) {
    auto separator = run_id.find(kRunSeparator);
    return separator == std::string_view::npos ? std::string_view() : run_id.substr(0, separator);
}

// A new job, queued on `node`, from a task envelope.
JobRecord record_from(Task&& task, std::int64_t now, const std::string& node);

}  // namespace zq::node
