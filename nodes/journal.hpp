// The node's journal: every job and each of its state changes, in an SQLite database in WAL
// mode under the node's data directory.
//
// Group commit: writes open a transaction lazily and commit() ends it. The node calls
// commit() once per turn of its loop, after handling a batch of messages and before it sends
// any acknowledgement, so durability costs one commit per batch rather than one per task.
// Every call returns a Status/Result naming the database and SQLite's reason on failure.
#pragma once

#include "checkpointer.hpp"

#include <zq/job.hpp>
#include <zq/result.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace zq::node {

// How hard a commit waits for the disk. `normal`: a committed job survives a crash of the
// node process (kill -9); the last commits may be lost if the whole machine loses power.
// `full`: an fsync per commit, survives power loss too.
enum class JournalSync { normal, full };

// One job as the journal keeps it.
struct JobRecord {
    std::string id;
    std::string task;
    std::string queue = "default";
    std::string target;
    std::int64_t priority = 0;
    std::string args;     // msgpack array
    std::string kwargs;   // msgpack map
    std::string headers;  // msgpack map (may be empty)
    double soft_time_limit = 0;
    double hard_time_limit = 0;
    std::int64_t eta_ms = 0;      // unix ms, not before (0 = none)
    std::int64_t expires_ms = 0;  // unix ms, not after (0 = never)
    // The retry policy (zq::Task has the meaning of each field).
    std::uint32_t max_retries = 0;
    double retry_delay = 0;
    double retry_backoff = 0;
    double retry_backoff_max = 0;
    bool retry_jitter = false;
    bool retry_on_worker_lost = false;
    std::uint32_t attempts = 0;
    std::int64_t next_attempt_ms = 0;  // when a retrying job is queued again (0 = not retrying)
    JobState state = JobState::accepted;
    std::string result;  // msgpack bytes
    std::string error;
    std::string node;  // node that runs or ran it
    bool cancel_requested = false;
    std::int64_t created_ms = 0;
    std::int64_t updated_ms = 0;
    // Set on the owner of a job forwarded by another node: the origin it reports to, and
    // whether the origin has yet to acknowledge the terminal state (store and forward).
    std::string origin;
    bool report_pending = false;
    std::string carried;  // envelope fields zq carries without acting on them (zq::Task::carried)
    // Uniqueness and throttling as the job asked (zq::Task has the meaning of each).
    std::string unique_key;
    std::string unique_policy;
    std::uint32_t key_concurrency = 0;
    // Capacity units it takes while it runs, and whether it runs alone (capacity_gate.hpp).
    // Settled at the origin when accepted (the job's own, else its task's, else 1).
    std::uint32_t weight = 1;
    bool exclusive = false;
};

// What the journal remembers of one schedule (scheduler.hpp): the last tick this node fired
// and the id of the job it submitted for it.
struct ScheduleMark {
    std::string name;
    std::int64_t last_tick_ms = 0;
    std::string last_job_id;
};

// Who holds a job the journal has: `origin` is empty for a job accepted here, else the node
// that forwarded it (the claim ledger counts it as that node's).
struct JobHolder {
    std::string origin;
    JobState state = JobState::accepted;
};

class Journal {
public:
    // Opens (creating if needed) DATA_DIR/journal.db. `max_pages`, when non-zero, caps the
    // database size (SQLite's max_page_count) so that a full disk can be tested.
    static Result<std::unique_ptr<Journal>> open(const std::string& data_dir, JournalSync sync,
                                                 std::uint64_t max_pages = 0);
    ~Journal();
    Journal(const Journal&) = delete;
    Journal& operator=(const Journal&) = delete;

    const std::string& path() const { return path_; }

    // Inserts a new job. Returns true when inserted, false when the id already exists
    // (nothing is changed then: resubmission is idempotent).
    Result<bool> insert_job(const JobRecord& job);
    // Records a state change: the job's state, result, error, node, attempts, next attempt
    // and updated_ms replace the stored ones.
    Status update_state(const JobRecord& job);
    // Records a cancel request (also used when the node is down: zq-send cancel --data).
    Status request_cancel(std::string_view id, std::int64_t now_ms);
    // The origin acknowledged the terminal state of a forwarded job: nothing more to resend.
    Status acknowledge_report(std::string_view id);
    // An origin asked again for a job whose outcome it had acknowledged (its journal lost
    // the outcome, say to a power loss with journal_sync "normal"): the outcome is reported
    // again until it acknowledges it once more.
    Status reopen_report(std::string_view id);
    // Caps the database at `max_pages` pages (0: unbounded), as open() does; `zq-node reload`
    // applies a changed journal_max_pages, so that a test can end the full disk it faked.
    Status set_max_pages(std::uint64_t max_pages);

    // The updates return ErrorCode::not_found, and change nothing, for an unknown id.
    // When any write fails (disk full, I/O error), the open transaction is rolled back, as
    // SQLite may already have done for a full disk: none of the writes since the last commit
    // are kept, in_transaction() is false, and the error says so. The caller treats the whole
    // batch as failed, exactly as when commit() fails.

    // Commits the open transaction, if any. On failure the transaction is rolled back: none
    // of the writes since the last commit are in the journal.
    Status commit();
    // Rolls back the open transaction, if any.
    void rollback();
    bool in_transaction() const { return in_transaction_; }

    // Schedules: the tick a schedule fired last, written in the turn that submits its job, so
    // that a restart neither repeats nor loses a tick.
    Status record_schedule_tick(std::string_view name, std::int64_t tick_ms, std::string_view job_id);
    // The schedule is gone from the config: its mark goes too.
    Status forget_schedule(std::string_view name);
    Result<std::vector<ScheduleMark>> schedule_marks();

    Result<std::optional<JobRecord>> find(std::string_view id);
    // Jobs not in a terminal state, oldest first (used at start-up to resume or fail them).
    Result<std::vector<JobRecord>> unfinished();
    // Terminal forwarded jobs whose origin has not acknowledged the outcome yet.
    Result<std::vector<JobRecord>> unacknowledged_reports();
    Result<std::map<JobState, std::uint64_t>> count_by_state();
    // Deletes terminal jobs last updated before `before_ms`, and claims recorded before it;
    // returns how many jobs.
    Result<std::uint64_t> purge_terminal_before(std::int64_t before_ms);

    // The claim ledger's table (claim_ledger.hpp): which node holds a job id.
    // Records that `node` holds `id` unless a node already does; true when recorded.
    Result<bool> insert_claim(std::string_view id, std::string_view node, std::int64_t now_ms);
    // The node that holds `id` by a recorded claim, if any.
    Result<std::optional<std::string>> find_claim(std::string_view id);
    // Whether any claim is recorded.
    Result<bool> has_claims();
    // The origin and state of a job the journal has (one short read, not the whole row).
    Result<std::optional<JobHolder>> find_job_holder(std::string_view id);
    // Records that `holder` holds `id`, decided here in place of `home`, the id's home when
    // every known node is counted, which was away: hints_for(home) lists it until
    // clear_hints(home). An id already recorded keeps its holder and gets the hint.
    Status hand_back_later(std::string_view id, std::string_view holder, std::string_view home, std::int64_t now_ms);
    // The homes some decision is to be handed back to.
    Result<std::vector<std::string>> hinted_homes();
    // The decisions to hand back to `home`: (id, holder), by id.
    Result<std::vector<std::pair<std::string, std::string>>> hints_for(std::string_view home);
    Status clear_hints(std::string_view home);
    // Deletes a job that lost its claim to another node. Only a job still `accepted` (it
    // never ran) is deleted; any other is ErrorCode::not_found and stays.
    Status delete_unclaimed_job(std::string_view id);

    // Hands checkpoints of the log to a thread of their own (checkpointer.hpp), so that no
    // commit pays for one. Without it (zq-send, tests) SQLite checkpoints inside commits.
    void checkpoint_in_background();
    // Checkpoints the background thread has done (0 without one).
    unsigned long long background_checkpoints() const { return checkpointer_ ? checkpointer_->completed() : 0; }

private:
    struct Statements;
    Journal(sqlite3* db, std::string path);

    // Steps of open(), in order; each names the journal in its error.
    Status configure(JournalSync sync, std::uint64_t max_pages);
    Status create_schema();
    Status prepare_statements();

    Status begin_if_needed();
    // Steps a prepared write; on failure rolls the transaction back (see above).
    Status step_write(sqlite3_stmt* statement, std::string_view what, std::string_view id);
    // Steps a prepared update of one job; a job that is not there is ErrorCode::not_found.
    Status step_update(sqlite3_stmt* statement, std::string_view what, std::string_view id);
    // Reads the current row of a select over the job columns.
    Result<JobRecord> read_job(sqlite3_stmt* statement, std::string_view what) const;
    // "journal PATH: WHAT ID: REASON".
    Error failure(std::string_view what, std::string_view id, std::string_view reason,
                  ErrorCode code = ErrorCode::failed) const;
    // A failure with SQLite's reason for the last failed call; notes when SQLite ended the
    // transaction by itself, so the caller knows the uncommitted writes are gone.
    Error sqlite_failure(std::string_view what, std::string_view id = {});

    sqlite3* db_ = nullptr;
    std::string path_;
    std::unique_ptr<Checkpointer> checkpointer_;
    std::unique_ptr<Statements> statements_;
    bool in_transaction_ = false;
};

}  // namespace zq::node
