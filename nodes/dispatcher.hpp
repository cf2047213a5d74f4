// The dispatcher: the life cycle of every job the node holds, from submission to outcome.
//
// It orchestrates parts that each own their state (docs/architecture.md draws them):
//   JobTable          the jobs held and the counts by state (job_table.hpp)
//   ReadyQueue        the jobs that run here, by priority (ready_queue.hpp)
//   CapacityGate      what may start here now (weight, exclusive, queue limit per node), and the
//                     ready jobs it holds back (capacity_gate.hpp)
//   ElsewhereQueue    the jobs only another node may run, and why they wait (elsewhere_queue.hpp)
//   Timetable         the jobs waiting for their ETA or next attempt, and the expiry times
//                     of those not yet started (two timetables: timetable.hpp)
//   PeerOutbox        what peers must hear until they answer (peer_outbox.hpp)
//   BroadcastCollector the outcomes of this node's broadcasts (broadcast_collector.hpp)
//   ClaimLedger       at an id's home: which node holds each job id (claim_ledger.hpp)
//   ClaimOutbox       at an origin: jobs waiting for their id's home to answer (claim_outbox.hpp)
//   KeyLedger         at a key's home: the jobs holding and waiting for its slots (key_ledger.hpp)
//   KeyOutbox         at an origin: jobs waiting for, or holding, slots of keys (key_outbox.hpp)
//   WorkflowBook      at an origin: its workflows, their steps' predecessors and results
//                     (workflow_book.hpp; the flow is planned by workflow_plan.hpp)
//   Turn              what the current turn sends once it is committed (turn.hpp)
//   WaitingLog        the log lines about waiting jobs, one per reason per interval
//                     (waiting_log.hpp)
// The dispatcher decides, with the help of two pure policies (placement.hpp: where a job
// runs; run_policy.hpp: what a run gets and how a failed one ends); the parts keep the
// facts; message_bodies.hpp writes what is sent. Its own code is in these files:
// dispatcher.cpp (requests, jobs run here, the turn), dispatcher_cluster.cpp (placement on
// peers, reports, reaping), dispatcher_broadcast.cpp (broadcasts), dispatcher_claims.cpp
// (cluster-wide ids: one node of the cluster holds a submitted id, whichever nodes it was
// submitted to), dispatcher_keys.cpp (keys: uniqueness and cluster-wide limits, admitted
// at the origin before a job enters the queues) and dispatcher_workflows.cpp (workflows:
// steps released in the turn that ends the step before them).
//
// Every state change is written to the journal inside the current turn's transaction;
// replies, RUN frames and peer messages wait in the turn and go out only after end_turn()
// has committed, so nothing is acknowledged before it is durable. If the commit fails, new
// submissions of the turn are rejected with the journal's reason, jobs about to start go
// back to the queue, and finished jobs are journaled again later.
//
// In a cluster the dispatcher is both origin and owner. As origin it places each ready job
// (placement.hpp): on a local worker, forwarded to a peer (FORWARD, answered by TAKEN), kept
// queued here, or `waiting` with a reason until capacity returns; it journals the states the
// owner reports (STATE), acknowledges terminal ones (STATE-ACK), and fails the jobs of a
// peer that is lost, left or restarted. As owner it journals a forwarded job before TAKEN,
// runs it, and resends its terminal STATE until the origin acknowledges it.
#pragma once

#include "broadcast_collector.hpp"
#include "capacity_gate.hpp"
#include "claim_ledger.hpp"
#include "claim_outbox.hpp"
#include "config.hpp"
#include "elsewhere_queue.hpp"
#include "event_loop.hpp"
#include "job_table.hpp"
#include "journal.hpp"
#include "key_ledger.hpp"
#include "key_outbox.hpp"
#include "message_bodies.hpp"
#include "peer_outbox.hpp"
#include "placement.hpp"
#include "pool.hpp"
#include "publisher.hpp"
#include "ready_queue.hpp"
#include "rejection_counts.hpp"
#include "run_policy.hpp"
#include "timetable.hpp"
#include "turn.hpp"
#include "waiting_log.hpp"
#include "workflow_book.hpp"

#include <zq/codec.hpp>
#include <zq/task.hpp>

#include <functional>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>
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
    // One job of `units` units was forwarded to the peer: that many free units fewer until its
    // next heartbeat.
    std::function<void(std::string_view name, std::uint64_t units)> take_capacity;
    // Whether the node is still learning which peers are alive (just started): an id's home
    // is not chosen until it knows (dispatcher_claims.cpp).
    std::function<bool()> settling;
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
    // A job the node submits itself (a schedule's tick): the SUBMIT path without a client,
    // journaled in this turn. An id the node already has runs nothing. An error when the job
    // is refused (node busy, a bad id) or the journal failed.
    Status submit_internal(Task task);
    void cancel(const std::string& client, const Message& message);
    // WORKFLOW: journals the workflow as a job of its own and releases its first steps
    // (dispatcher_workflows.cpp).
    void submit_workflow(const std::string& client, const Message& message);
    // Sends STATE to the client when the job is terminal (at once if it already is); false
    // when the node has no such job.
    bool watch(const std::string& client, std::string_view id);
    // The job as the node knows it (memory first, then the journal), as shown().
    Result<JobRecord> find(std::string_view id);

    // Broadcasts (dispatcher_broadcast.cpp). A client's BROADCAST: journaled here as a job
    // with target "*" whose result collects each node's outcome, run here too, and published
    // after the commit to the nodes alive now.
    void broadcast(const std::string& client, const Message& message);
    // A published, repaired or resent BROADCAST of a peer: run once here as ID@NODE if this
    // node is one of its targets, and reported to the origin like a forwarded job.
    void on_broadcast(const Message& message);

    // Peer messages (arriving on the client port from a peer's link).
    void on_forward(const Message& message);     // owner: run this job for its origin
    void on_taken(const Message& message);       // origin: the owner journaled the job
    void on_peer_state(const Message& message);  // origin: the owner reports a transition
    void on_state_ack(const Message& message);   // owner: the origin journaled the outcome
    void on_claim(const Message& message);       // home: which node holds these ids?
    void on_claimed(const Message& message);     // origin: the home's answer to a claim
    void on_key_acquire(const Message& message);  // key's home: slots for these jobs?
    void on_key_answer(const Message& message);   // origin: granted, waiting or dropped
    void on_key_release(const Message& message);  // key's home: these jobs ended
    // Fails the unfinished jobs placed on `node` with `explanation` (lost, left). For a node
    // that restarted, only the running ones: the queued jobs it journaled are resumed by it
    // and reported as usual.
    void reap_node(const std::string& node, const std::string& explanation, bool running_only = false);
    // Capacity or membership changed: waiting and queued jobs are placed again this turn, and
    // the homes of the ids whose claims are out are chosen again.
    void placement_changed() {
        placement_dirty_ = true;
        members_dirty_ = true;
    }
    // Jobs waiting for capacity or for a slot of their key or queue, with the reason, for status.
    std::vector<std::pair<std::string, std::string>> waiting_jobs() const;
    // Queued jobs the capacity gate holds (weight, exclusive, queue limit), with the reason.
    std::vector<std::pair<std::string, std::string>> held_jobs() const { return gate_.held_reasons(); }
    const CapacityGate& capacity() const { return gate_; }

    // Pool events.
    void on_task_done(std::string_view id, const TaskOutcome& outcome);
    void on_worker_lost(std::string_view id, const std::string& explanation, StopReason reason);
    // A job handed to a worker that never started it: queued again at the front (or
    // canceled, if a cancel is what took it back).
    void on_task_returned(std::string_view id);
    // A worker started a job it held behind another (prefetch): it takes its capacity now.
    void on_task_started(std::string_view id);

    // End of a loop turn: start what can start, commit the journal, then send.
    void end_turn();
    // Hears, after each commit of a turn that wrote or sent anything, whether it succeeded.
    void set_commit_listener(std::function<void(bool committed)> listener) { commit_listener_ = std::move(listener); }
    // A journal write another part made in this turn (the scheduler's marks): a failure fails
    // the turn like the dispatcher's own writes.
    void note_journal_write(const Status& status) { journal_write(status); }

    // For status and control.
    std::vector<std::string> running_jobs() const;
    StateCounts counts_by_state() const { return jobs_.counts(); }
    std::size_t pending() const { return jobs_.size(); }
    std::uint64_t rejected_count() const { return rejections_.total(); }
    // REJECTED answers by kind (zq/rejection.hpp).
    const RejectionCounts& rejections() const { return rejections_; }
    // Answers REJECTED {why, id?} after this turn's commit, and counts it.
    void reply_rejected(const std::string& client, std::string_view id, const std::string& reason);
    // Replies and peer messages that could not be handed to zmq (client gone, queue full).
    std::uint64_t undeliverable_count() const { return undeliverable_; }
    // Reads the counts by state from the journal again (after a purge).
    void recount_states();
    // Fails what still runs with `explanation` (graceful shutdown after the grace period).
    // Also cancels the runs of other nodes' broadcasts still queued here.
    void fail_running(const std::string& explanation);
    // The node stops: nothing more is forwarded, as no TAKEN could be waited for; queued jobs
    // stay in the journal for the restart.
    void stop_forwarding() { forwarding_ = false; }
    // Queues a reply that goes out with this turn's other replies, after the commit.
    void reply(const std::string& client, protocol::Command command, std::string body);
    // CONTROL-REPLY {rid, ok: true, data: job map}.
    void reply_job(const std::string& client, RequestId request_id, const JobRecord& job);

private:
    // The job as status shows it: the record, or while its outcome is not yet written (a
    // failed commit) the journal's row, so that nothing is reported that a crash could undo.
    JobRecord shown(const Job& job);
    // Jobs run here: queueing, starting, outcomes (dispatcher.cpp).
    void enqueue(Job& job);
    // Takes a job out of every queue and timetable (canceled, or the node stops).
    void unqueue(Job& job);
    // Ends a job whose expiry has passed before it started (expired, never run).
    void expire(Job& job);
    // Expires the job if its expiry is due at `now_ms`; true when it did.
    bool expire_if_due(Job& job, std::int64_t now_ms);
    // Idle workers first, then peers with free workers, and only what is left is prefetched.
    void start_ready_jobs();
    // Hands ready jobs to idle workers, or with `prefetch` to workers with a free slot.
    void start_on_workers(bool prefetch);
    // The job is no longer on its worker: the worker and the capacity it took are free.
    void leave_worker(Job& job);
    // REJECTED's reason when no node that may run the job has the capacity for its weight
    // (placement.hpp, heavier_than_every_node).
    std::string too_heavy_reason(const JobRecord& job) const;
    void change_state(Job& job, JobState state, std::string_view result = {}, std::string_view error = {});
    void finish(Job& job, JobState state, std::string_view result, std::string_view error);
    // Ends a job that did not succeed as the run policy says (run_policy.hpp).
    void end_unsuccessful(Job& job, const RunFailure& failure);
    // A retrying job is queued again after `delay_seconds` (journaled, so a restart keeps it).
    void schedule_retry(Job& job, double delay_seconds);
    // The job waits in the wakeup timetable until `due_ms` (its ETA or next attempt).
    void wait_until(Job& job, std::int64_t due_ms);
    // Puts a job with an expiry in the expiry timetable, if it is not there yet.
    void watch_expiry(Job& job);
    // Queues the jobs whose ETA or next attempt has come, expires those whose expiry has.
    void on_clock();
    void arm_clock_timer();
    // SUBMIT after decoding, for a client or (client "") for the node itself.
    Status accept_task(const std::string& client, Task&& task, bool watch);
    // Answers a SUBMIT or BROADCAST of an id this node holds; false when it holds none.
    bool answer_active(const std::string& client, const std::string& id, bool watch);
    // REJECTED's reason when max_pending jobs are held.
    std::string busy_reason() const;
    // Journals a new job submitted by `client` (SUBMIT or BROADCAST). An id the journal
    // already has (the job finished earlier) is answered as a duplicate, nothing runs, and
    // the result is false; so is a journal failure, answered REJECTED.
    bool insert_submitted(const std::string& client, const JobRecord& job, bool watch);
    // Holds a job the journal just took, accepted for `client` ("" for a peer's job).
    Job& hold_accepted(JobRecord record, const std::string& client);
    void add_watcher(Job& job, const std::string& client);
    void journal_write(const Status& status);
    void note_event(const JobRecord& job);
    void reply_accepted(const std::string& client, const JobRecord& job, bool duplicate);
    // REJECTED in `turn` (this one, or a turn whose commit failed and is being sent).
    void reject(Turn& turn, const std::string& client, std::string_view id, const std::string& reason);
    void reply_state(const std::string& client, const JobRecord& job);

    // The turn (dispatcher.cpp).
    void commit_failed(Turn& turn, const std::string& reason);
    void rejournal_unwritten();
    void send_turn(Turn& turn);
    // A finished job's outcome goes to its watchers, its origin or its broadcast; then the
    // table forgets it.
    void settle(Job& job);
    void deliver(const std::string& client, protocol::Command command, std::string_view body);

    // Across nodes (dispatcher_cluster.cpp).
    Status load_unacknowledged_reports();
    // After a restart, jobs this node had placed on peers wait for their owners to be heard
    // from; an owner still silent after owner_grace_seconds() is reaped as lost.
    void reap_silent_owners();
    // The longest a healthy owner can take to be heard from after this node starts: its link
    // back's longest reconnect backoff, then (liveness + 1) × interval.
    double owner_grace_seconds() const;
    // Forwards queued jobs to peers with free workers and re-evaluates the waiting ones.
    void place_elsewhere();
    // A job held here as this node's own, not started, that `owner` reports it runs: it
    // leaves the queues here and is the owner's from now on (journaled).
    void adopt_peer_run(Job& job, const std::string& owner);
    // Owner: a FORWARD of a job the journal has (`stored`) is answered with its outcome, if it
    // has one the origin may lack.
    void answer_again(const std::string& origin, const JobRecord& stored);
    void forward_to(Job& job, const std::string& peer);
    void wait_for_capacity(Job& job, const std::string& reason);
    // Journals and queues a job run here for `origin` (a forwarded job or a broadcast run),
    // answering TAKEN; a job it already has is answered TAKEN again and runs nothing.
    void run_for_origin(const std::string& origin, Task&& task);
    void to_peer(const std::string& node, protocol::Command command, std::string body);
    // STATE-ACK: the origin journaled the terminal state the owner reported.
    void acknowledge(const std::string& owner, std::string_view id);
    // Resends FORWARDs not yet TAKEN, terminal reports not yet acknowledged, cancels not yet
    // obeyed and broadcasts not yet taken, to peers that are alive.
    void resend_to_peers();

    // Cluster-wide ids (dispatcher_claims.cpp).
    enum class ClaimStep {
        run,       // this node holds the id: the job is journaled and runs as usual
        await,     // another node is the id's home: journaled `accepted`, it waits for the answer
        answered,  // another node holds the id: the submitter has its answer, nothing is journaled
    };
    // Whether a submission must ask the id's home: in a cluster, or alone with claims kept.
    bool claims_apply() const { return in_cluster_ || !claims_.empty(); }
    // Decides a submission's step before it is journaled; `record` becomes `accepted` to await.
    ClaimStep claim_on_submit(const std::string& client, JobRecord& record);
    // The job waits for its claim; `client` ("" for none) hears the answer as ACCEPTED.
    void await_claim(Job& job, const std::string& client);
    // Another submission of a job that awaits its claim: answered with the claim's answer.
    void await_claim_again(Job& job, const std::string& client);
    // The home's choice (`self` when alone; "" while settling).
    std::string home_of(std::string_view id) const;
    // Reads the live peers again; when the set changed, claims out go to their new homes, and
    // those homed here are decided here.
    void refresh_members();
    // A claim's answer: granted, the job is queued; lost, it is deleted unrun.
    void claim_decided(const std::string& id, const ClaimDecision& decision);
    // CLAIMs of this turn's new (or rehomed) claims, one per home; and those unanswered.
    void send_new_claims();
    void resend_claims();
    // This node decided `id` as its home; if the id's home counting every known node is away,
    // that node is owed the decision (claim_ledger.hpp, hand-back).
    void owe_if_home_away(const std::string& id, const std::string& holder);
    // Hands the decisions owed to the homes back alive to them, between turns.
    void hand_back_claims();

    // Workflows at their origin (dispatcher_workflows.cpp).
    static bool is_workflow(const JobRecord& job);
    // The workflow job becomes `running` and its first steps are released.
    void start_workflow(Job& job);
    void start_workflow(Job& job, Plan plan);
    // At start-up: the workflow's state is rebuilt from its steps' rows in the journal.
    void restore_workflow(Job& job);
    // At the origin, a job ended: if it is a step, its workflow decides what runs next.
    void workflow_step_ended(const Job& step);
    // At the origin, a plain job with `links` ended: its callbacks start as workflows.
    void release_links(const Job& job);
    // Journals and queues the book's releases, journals its skips, ends the workflow.
    void carry_out(const std::string& workflow, WorkflowDecisions decisions);
    JobRecord step_record(const std::string& workflow, const Plan& plan, std::uint32_t step, std::string args,
                          std::int64_t now) const;
    void cancel_workflow(Job& workflow);
    void cancel_step(Job& step);
    // The job map of STATE and control replies; a workflow's lists its steps.
    std::string job_data(const JobRecord& job);
    // Keys: uniqueness and cluster-wide limits (dispatcher_keys.cpp).
    // The gate in enqueue(): true when the job holds every slot it needs (or needs none);
    // otherwise it waits (`waiting`), or was dropped as a duplicate.
    bool key_gate_open(Job& job);
    // Asks the home of the job's next lock; decided at once when this node is the home.
    void ask_for_slot(Job& job);
    // Routes a home's answers: this node's jobs in place, others' in KEY-ANSWER.
    void deliver_key_answers(const std::vector<KeyAnswer>& answers);
    // At the origin: one verdict on one of its jobs.
    void on_key_verdict(const KeyAnswer& answer);
    void drop_duplicate(Job& job, const KeyAnswer& answer);
    // The job ended: its slots are released at their homes.
    void release_key_slots(const std::string& id);
    // At a restart: a queued, retrying or placed job holds its slots already.
    void restore_key_slots(Job& job);
    // Tells each home everything this node holds and waits for there (every heartbeat
    // interval, and at once when membership changes, `with_self` then).
    void sync_key_homes(bool with_self);
    // Holds the key ledger's grants while the node settles or just after membership changed
    // (until the origins' lists have arrived), and releases them after.
    void refresh_key_hold();
    // A lost or restarted origin's slots are freed here, as its home.
    void forget_key_origin(const std::string& node);
    // The first answer to a keyed submission (ACCEPTED body), when it is not the plain one:
    // dropped, or waiting; "" when it is held for the key's home's verdict.
    std::optional<std::string> keyed_answer(const std::string& client, Job& job);

    // Broadcasts at their origin (dispatcher_broadcast.cpp).
    static bool is_broadcast(const JobRecord& job) { return job.target == "*"; }
    void record_outcome(const std::string& id, const std::string& node, JobState state, std::string_view result,
                        std::string_view error);
    void restore_broadcast(Job& job);
    // Journals a broadcast's outcomes so far (its result), within the turn.
    void write_outcomes(Job& job);
    void publish_broadcasts(const std::vector<Job*>& jobs);
    void resend_broadcasts();

    const Config& config_;
    Journal& journal_;
    Pool& pool_;
    ReplySender send_;
    PeerLinks peers_;
    Publisher* publisher_ = nullptr;
    // This node as placement sees it (it never has a free worker there: the dispatcher
    // starts local work before it asks placement).
    LocalView local_;
    bool placement_dirty_ = true;
    bool forwarding_ = true;  // false once the node stops (stop_forwarding)

    JobTable jobs_;
    ReadyQueue ready_;
    CapacityGate gate_;           // what may start here now; the ready jobs it holds back
    std::vector<Job*> woken_;     // held jobs that may fit again (reused between turns)
    ElsewhereQueue elsewhere_;
    Timetable wakeups_;   // scheduled (ETA) and retrying jobs, by when they are queued
    Timetable expiries_;  // jobs with an expiry, by it, until they start or end
    PeerOutbox outbox_;
    BroadcastCollector broadcasts_;
    ClaimLedger claims_;
    ClaimOutbox awaiting_claims_;
    WorkflowBook workflows_;
    KeyLedger key_ledger_;
    KeyOutbox key_outbox_;
    std::set<std::string> key_homes_synced_;  // peers told of this node's slots at the last sync
    std::int64_t keys_paused_until_ms_ = 0;   // steady clock: the ledger grants nothing before
    Turn turn_;
    // The cluster as the ids' homes see it: the live peers' names (sorted), whether the node
    // is still settling, and whether it must claim at all. Read again on membership changes.
    // Until the first refresh the node knows nothing of its cluster: it counts as settling.
    std::vector<std::string> live_peers_;
    std::vector<std::string> known_peers_;  // every named peer, alive or not
    std::set<std::string> hand_back_due_;   // homes back alive that are owed decisions
    std::int64_t hand_back_after_ms_ = 0;   // steady clock: a failed hand-back waits till then
    bool settling_ = true;
    bool in_cluster_ = false;
    bool members_dirty_ = true;
    bool decide_here_ = false;  // some claim homed here waits to be decided

    Timer peer_timer_;         // resend_to_peers
    Timer owner_check_timer_;  // reap_silent_owners, once after a restart
    Timer rejournal_timer_;    // a turn again after a failed commit
    Timer clock_timer_;        // on_clock
    std::mt19937_64 random_{std::random_device{}()};  // retry jitter
    RejectionCounts rejections_;
    // One log line per waiting reason per 10 s, however many jobs wait (waiting_log.hpp).
    WaitingLog waiting_log_{10'000};
    std::uint64_t undeliverable_ = 0;
    std::function<void(bool)> commit_listener_;
};

}  // namespace zq::node
