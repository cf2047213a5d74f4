#include "journal.hpp"

#include <sqlite3.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>
#include <vector>

namespace zq::node {
namespace {

constexpr std::string_view kFileName = "journal.db";

// Stored in the meta table. Bump it whenever the schema changes: a journal with another
// version is refused at open rather than misread.
constexpr std::string_view kSchemaVersion = "5";
// Older versions upgraded in place when opened: version 2 lacked the `carried` column,
// version 3 the times and the backoff policy, and both the `expired` state, which changes
// the partial index of unfinished jobs; version 4 the uniqueness key, policy and key
// concurrency (ukey, upol, kconc), and the capacity demand (`weight`, `exclusive`).
constexpr std::string_view kUpgradableVersions[] = {"2", "3", "4"};

// How long a write waits for another connection's transaction before failing with "database
// is locked". Another connection is rare: `zq-send cancel --data` writes only while no node
// runs on the directory, and the sqlite3 shell may read; a node holds its write transaction
// for at most one turn of its loop, so a real wait is short.
constexpr int kBusyTimeoutMs = 5000;

// Appended to an error after which the uncommitted writes are gone.
constexpr std::string_view kRolledBackNote = " (the writes since the last commit were rolled back)";

// The columns of the jobs table, in the order of kJobColumns. The table, the insert and every
// select are generated from that one list, so they cannot drift apart.
enum class Column {
    id,
    task,
    queue,
    target,
    priority,
    args,
    kwargs,
    headers,
    soft,
    hard,
    max_retries,
    retry_delay,
    attempts,
    state,
    result,
    error,
    node,
    cancel_requested,
    created_ms,
    updated_ms,
    origin,
    report_pending,
    carried,
    eta_ms,
    expires_ms,
    next_attempt_ms,
    retry_backoff,
    retry_backoff_max,
    retry_jitter,
    retry_on_worker_lost,
    ukey,
    upol,
    kconc,
    weight,
    exclusive,
};

struct ColumnSpec {
    std::string_view name;
    std::string_view type;
};

// Columns added after version 2 have a DEFAULT, so that an upgrade can add them in place.
constexpr std::array<ColumnSpec, 35> kJobColumns = {{
    {"id", "TEXT PRIMARY KEY NOT NULL"},
    {"task", "TEXT NOT NULL"},
    {"queue", "TEXT NOT NULL"},
    {"target", "TEXT NOT NULL"},
    {"priority", "INTEGER NOT NULL"},
    {"args", "BLOB NOT NULL"},     // msgpack array
    {"kwargs", "BLOB NOT NULL"},   // msgpack map
    {"headers", "BLOB NOT NULL"},  // msgpack map, or empty
    {"soft", "REAL NOT NULL"},     // soft time limit, seconds
    {"hard", "REAL NOT NULL"},     // hard time limit, seconds
    {"max_retries", "INTEGER NOT NULL"},
    {"retry_delay", "REAL NOT NULL"},
    {"attempts", "INTEGER NOT NULL"},
    {"state", "TEXT NOT NULL"},  // zq::to_string(JobState), so that the journal reads well by hand
    {"result", "BLOB NOT NULL"},  // msgpack, or empty
    {"error", "TEXT NOT NULL"},
    {"node", "TEXT NOT NULL"},
    {"cancel_requested", "INTEGER NOT NULL"},
    {"created_ms", "INTEGER NOT NULL"},
    {"updated_ms", "INTEGER NOT NULL"},
    {"origin", "TEXT NOT NULL"},  // node that forwarded the job here; empty when accepted here
    {"report_pending", "INTEGER NOT NULL"},  // 1 until the origin acknowledged the terminal state
    // The envelope fields zq carries without acting on them (zq::Task::carried): msgpack map.
    {"carried", "BLOB NOT NULL DEFAULT x''"},
    {"eta_ms", "INTEGER NOT NULL DEFAULT 0"},           // unix ms, not before; 0 = none
    {"expires_ms", "INTEGER NOT NULL DEFAULT 0"},       // unix ms, not after; 0 = never
    {"next_attempt_ms", "INTEGER NOT NULL DEFAULT 0"},  // unix ms of a retrying job's next attempt
    {"retry_backoff", "REAL NOT NULL DEFAULT 0"},
    {"retry_backoff_max", "REAL NOT NULL DEFAULT 0"},
    {"retry_jitter", "INTEGER NOT NULL DEFAULT 0"},
    {"retry_on_worker_lost", "INTEGER NOT NULL DEFAULT 0"},
    {"ukey", "TEXT NOT NULL DEFAULT ''"},    // uniqueness and throttle key as submitted; '' = none
    {"upol", "TEXT NOT NULL DEFAULT ''"},    // on_duplicate policy as submitted; '' = the config's
    {"kconc", "INTEGER NOT NULL DEFAULT 0"}, // key concurrency as submitted; 0 = the config's
    {"weight", "INTEGER NOT NULL DEFAULT 1"},     // capacity units it takes while it runs
    {"exclusive", "INTEGER NOT NULL DEFAULT 0"},  // 1: it runs alone on its node
}};

constexpr int column_index(Column column) { return static_cast<int>(column); }
// The insert numbers its parameters in column order (?1 is id).
constexpr int insert_parameter(Column column) { return column_index(column) + 1; }

static_assert(kJobColumns[column_index(Column::id)].name == "id");
static_assert(kJobColumns[column_index(Column::state)].name == "state");
static_assert(kJobColumns[column_index(Column::updated_ms)].name == "updated_ms");
static_assert(kJobColumns[column_index(Column::report_pending)].name == "report_pending");
static_assert(kJobColumns[column_index(Column::carried)].name == "carried");
static_assert(kJobColumns[column_index(Column::eta_ms)].name == "eta_ms");
static_assert(kJobColumns[column_index(Column::weight)].name == "weight");
static_assert(column_index(Column::exclusive) + 1 == kJobColumns.size());

std::string column_list() {
    std::string list;
    for (const ColumnSpec& column : kJobColumns) {
        if (!list.empty()) list += ", ";
        list += column.name;
    }
    return list;
}

// "state <> 'succeeded' AND state <> 'failed' AND ...", from zq::is_terminal so that the
// journal agrees with the rest of zq about which states are final. Not "NOT IN (...)": SQLite
// evaluates a list of more than two values through a temporary b-tree, built afresh on every
// write that checks the partial index, which made writes almost three times slower.
//
// The query for unfinished() repeats the partial index's condition word for word: that is how
// SQLite knows it may use the index. Changing the set of terminal states changes the index,
// so it needs a new kSchemaVersion.
std::string unfinished_condition() {
    std::string condition;
    for (int value = 0; value <= static_cast<int>(kLastJobState); ++value) {
        auto state = static_cast<JobState>(value);
        if (!is_terminal(state)) continue;
        if (!condition.empty()) condition += " AND ";
        condition += "state <> '" + std::string(to_string(state)) + "'";
    }
    return condition;
}

std::string unfinished_index_sql() {
    return "CREATE INDEX IF NOT EXISTS jobs_unfinished ON jobs (created_ms) WHERE " + unfinished_condition() + ";\n";
}

// The claim ledger (claim_ledger.hpp): which node holds a job id, as decided by the id's
// home. `hint` names the node a decision is to be handed back to: the id's home when all the
// nodes known are counted, which was away when this node decided in its place ('' for none).
// Created with IF NOT EXISTS at every open, so a journal of this schema version written
// before the ledger existed gains the table in place; a zq without the ledger ignores it.
// That is why adding it did not need a new kSchemaVersion. created_ms is indexed for the
// purge, which removes claims with the same retention as terminal jobs; the partial index
// holds only the decisions still to hand back.
std::string claims_schema_sql() {
    return "CREATE TABLE IF NOT EXISTS claims (\n"
           "    id TEXT PRIMARY KEY NOT NULL,\n"
           "    node TEXT NOT NULL,\n"
           "    created_ms INTEGER NOT NULL,\n"
           "    hint TEXT NOT NULL DEFAULT ''\n"
           ") WITHOUT ROWID;\n"
           "CREATE INDEX IF NOT EXISTS claims_created ON claims (created_ms);\n"
           "CREATE INDEX IF NOT EXISTS claims_hinted ON claims (hint) WHERE hint <> '';\n";
}

// Adds the columns an older journal lacks and makes its partial index again.
std::string upgrade_sql(const std::vector<std::string>& existing_columns) {
    std::string sql = "BEGIN IMMEDIATE;\n";
    for (const ColumnSpec& column : kJobColumns) {
        if (std::find(existing_columns.begin(), existing_columns.end(), column.name) != existing_columns.end()) continue;
        sql += "ALTER TABLE jobs ADD COLUMN " + std::string(column.name) + " " + std::string(column.type) + ";\n";
    }
    sql += "DROP INDEX IF EXISTS jobs_unfinished;\n" + unfinished_index_sql();
    sql += "UPDATE meta SET value = '" + std::string(kSchemaVersion) + "' WHERE key = 'schema_version';\nCOMMIT;\n";
    return sql;
}

// The whole schema. The partial index holds only the jobs that are still moving, so the
// start-up scan in unfinished() does not read the retained history.
std::string schema_sql() {
    std::string sql =
        "CREATE TABLE IF NOT EXISTS meta (\n"
        "    key TEXT PRIMARY KEY NOT NULL,\n"
        "    value TEXT NOT NULL\n"
        ") WITHOUT ROWID;\n"
        "CREATE TABLE IF NOT EXISTS jobs (\n";
    for (std::size_t i = 0; i < kJobColumns.size(); ++i) {
        sql += "    " + std::string(kJobColumns[i].name) + " " + std::string(kJobColumns[i].type);
        sql += i + 1 < kJobColumns.size() ? ",\n" : "\n";
    }
    sql += ") WITHOUT ROWID;\n";
    sql += unfinished_index_sql();
    sql += claims_schema_sql();
    // The last tick each schedule fired here (scheduler.hpp). A table of its own, added with
    // IF NOT EXISTS to a journal of any version: a zq that does not know it ignores it, so it
    // needs no new schema version.
    sql +=
        "CREATE TABLE IF NOT EXISTS schedules (\n"
        "    name TEXT PRIMARY KEY NOT NULL,\n"
        "    last_tick_ms INTEGER NOT NULL,\n"
        "    last_job_id TEXT NOT NULL\n"
        ") WITHOUT ROWID;\n";
    sql += "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', '" + std::string(kSchemaVersion) + "');\n";
    return sql;
}

std::string insert_sql() {
    std::string values;
    for (std::size_t i = 1; i <= kJobColumns.size(); ++i) values += (i == 1 ? "?" : ", ?") + std::to_string(i);
    return "INSERT OR IGNORE INTO jobs (" + column_list() + ") VALUES (" + values + ")";
}

// Creates `directory` and any missing parents with mode 0700: the journal holds job arguments
// and results, which are nobody else's business.
Status make_private_directory(const std::string& directory) {
    std::filesystem::path partial;
    for (const auto& part : std::filesystem::path(directory)) {
        partial /= part;
        std::error_code ignored;
        if (part.empty() || std::filesystem::is_directory(partial, ignored)) continue;
        if (::mkdir(partial.c_str(), 0700) != 0 && errno != EEXIST) {
            return Error{"create directory " + partial.string() + ": " + std::strerror(errno)};
        }
    }
    std::error_code ignored;
    if (!std::filesystem::is_directory(directory, ignored)) {
        return Error{"data directory " + directory + " is not a directory"};
    }
    return success();
}

// Runs one SQL statement and keeps the first column of its first row (pragmas answer so).
int query_first(sqlite3* db, const char* sql, std::string& first) {
    auto keep_first = [](void* out, int columns, char** values, char**) {
        auto& text = *static_cast<std::string*>(out);
        if (columns > 0 && values[0] && text.empty()) text = values[0];
        return 0;
    };
    first.clear();
    return sqlite3_exec(db, sql, keep_first, &first, nullptr);
}

struct StatementDeleter {
    void operator()(sqlite3_stmt* statement) const { sqlite3_finalize(statement); }
};
using Statement = std::unique_ptr<sqlite3_stmt, StatementDeleter>;

// Resets a statement when the call that used it returns: a reset statement holds no read
// transaction open between calls, and clearing the bindings means no binding outlives the
// caller's buffer (they are bound with SQLITE_STATIC, without a copy).
class StatementUse {
public:
    explicit StatementUse(sqlite3_stmt* statement) : statement_(statement) {}
    ~StatementUse() {
        sqlite3_reset(statement_);
        sqlite3_clear_bindings(statement_);
    }
    StatementUse(const StatementUse&) = delete;
    StatementUse& operator=(const StatementUse&) = delete;

private:
    sqlite3_stmt* statement_;
};

// An empty string_view may have a null data(), which SQLite would store as NULL; every column
// is NOT NULL, so empty values are bound as empty text or blobs instead.
const char* non_null(std::string_view bytes) { return bytes.data() ? bytes.data() : ""; }

bool bind_text(sqlite3_stmt* statement, int parameter, std::string_view text) {
    return sqlite3_bind_text64(statement, parameter, non_null(text), text.size(), SQLITE_STATIC, SQLITE_UTF8) ==
           SQLITE_OK;
}

bool bind_blob(sqlite3_stmt* statement, int parameter, std::string_view bytes) {
    return sqlite3_bind_blob64(statement, parameter, non_null(bytes), bytes.size(), SQLITE_STATIC) == SQLITE_OK;
}

bool bind_integer(sqlite3_stmt* statement, int parameter, std::int64_t value) {
    return sqlite3_bind_int64(statement, parameter, value) == SQLITE_OK;
}

bool bind_real(sqlite3_stmt* statement, int parameter, double value) {
    return sqlite3_bind_double(statement, parameter, value) == SQLITE_OK;
}

bool bind_job(sqlite3_stmt* statement, const JobRecord& job) {
    auto at = insert_parameter;
    return bind_text(statement, at(Column::id), job.id) && bind_text(statement, at(Column::task), job.task) &&
           bind_text(statement, at(Column::queue), job.queue) && bind_text(statement, at(Column::target), job.target) &&
           bind_integer(statement, at(Column::priority), job.priority) &&
           bind_blob(statement, at(Column::args), job.args) && bind_blob(statement, at(Column::kwargs), job.kwargs) &&
           bind_blob(statement, at(Column::headers), job.headers) &&
           bind_real(statement, at(Column::soft), job.soft_time_limit) &&
           bind_real(statement, at(Column::hard), job.hard_time_limit) &&
           bind_integer(statement, at(Column::max_retries), job.max_retries) &&
           bind_real(statement, at(Column::retry_delay), job.retry_delay) &&
           bind_integer(statement, at(Column::attempts), job.attempts) &&
           bind_text(statement, at(Column::state), to_string(job.state)) &&
           bind_blob(statement, at(Column::result), job.result) && bind_text(statement, at(Column::error), job.error) &&
           bind_text(statement, at(Column::node), job.node) &&
           bind_integer(statement, at(Column::cancel_requested), job.cancel_requested ? 1 : 0) &&
           bind_integer(statement, at(Column::created_ms), job.created_ms) &&
           bind_integer(statement, at(Column::updated_ms), job.updated_ms) &&
           bind_text(statement, at(Column::origin), job.origin) &&
           bind_integer(statement, at(Column::report_pending), job.report_pending ? 1 : 0) &&
           bind_blob(statement, at(Column::carried), job.carried) &&
           bind_integer(statement, at(Column::eta_ms), job.eta_ms) &&
           bind_integer(statement, at(Column::expires_ms), job.expires_ms) &&
           bind_integer(statement, at(Column::next_attempt_ms), job.next_attempt_ms) &&
           bind_real(statement, at(Column::retry_backoff), job.retry_backoff) &&
           bind_real(statement, at(Column::retry_backoff_max), job.retry_backoff_max) &&
           bind_integer(statement, at(Column::retry_jitter), job.retry_jitter ? 1 : 0) &&
           bind_integer(statement, at(Column::retry_on_worker_lost), job.retry_on_worker_lost ? 1 : 0) &&
           bind_text(statement, at(Column::ukey), job.unique_key) &&
           bind_text(statement, at(Column::upol), job.unique_policy) &&
           bind_integer(statement, at(Column::kconc), job.key_concurrency) &&
           bind_integer(statement, at(Column::weight), job.weight) &&
           bind_integer(statement, at(Column::exclusive), job.exclusive ? 1 : 0);
}

std::string column_bytes(sqlite3_stmt* statement, Column column) {
    const int index = column_index(column);
    // sqlite3_column_blob gives text columns' bytes unchanged too; it is null for an empty value.
    const void* data = sqlite3_column_blob(statement, index);
    const int size = sqlite3_column_bytes(statement, index);
    return data ? std::string(static_cast<const char*>(data), static_cast<std::size_t>(size)) : std::string();
}

std::int64_t column_integer(sqlite3_stmt* statement, Column column) {
    return sqlite3_column_int64(statement, column_index(column));
}

double column_real(sqlite3_stmt* statement, Column column) {
    return sqlite3_column_double(statement, column_index(column));
}

}  // namespace

struct Journal::Statements {
    Statement begin;
    Statement commit;
    Statement rollback;
    Statement insert_job;
    Statement update_state;
    Statement request_cancel;
    Statement acknowledge_report;
    Statement reopen_report;
    Statement find;
    Statement unacknowledged_reports;
    Statement unfinished;
    Statement count_by_state;
    Statement purge_terminal;
    Statement insert_claim;
    Statement find_claim;
    Statement any_claim;
    Statement purge_claims;
    Statement find_job_holder;
    Statement delete_unclaimed_job;
    Statement hand_back_later;
    Statement hinted_homes;
    Statement hints_for;
    Statement clear_hints;
    Statement record_schedule_tick;
    Statement forget_schedule;
    Statement schedule_marks;
};

Journal::Journal(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}

// Log frames after which a checkpoint is asked for: SQLite's own threshold.
constexpr int kCheckpointFrames = 1000;
// Log frames past which the commit checkpoints itself after all. The log starts again from its
// beginning only when a commit finds everything copied; under a steady load commits keep
// landing while the thread copies, and the log would grow for as long as the load lasts.
constexpr int kCheckpointCeiling = 4 * kCheckpointFrames;
// What the log file is cut back to when it starts again (SQLite keeps its size otherwise).
constexpr const char* kLogSizeLimit = "PRAGMA journal_size_limit=16777216";

void Journal::checkpoint_in_background() {
    auto checkpointer = std::make_unique<Checkpointer>(path_);
    if (!checkpointer->ready()) return;  // SQLite's automatic checkpoint stays on
    checkpointer_ = std::move(checkpointer);
    std::string ignored;
    query_first(db_, kLogSizeLimit, ignored);
    // Replaces SQLite's automatic checkpoint inside the commit.
    sqlite3_wal_hook(
        db_,
        [](void* journal, sqlite3* db, const char*, int frames) {
            if (frames >= kCheckpointCeiling) {
                sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
            } else if (frames >= kCheckpointFrames) {
                static_cast<Journal*>(journal)->checkpointer_->request();
            }
            return SQLITE_OK;
        },
        this);
}

Journal::~Journal() {
    // An uncommitted batch is dropped, exactly as if the process had died here.
    if (statements_) rollback();
    // SQLite closes a connection only once all of its statements are finalized.
    statements_.reset();
    sqlite3_close(db_);
}

Result<std::unique_ptr<Journal>> Journal::open(const std::string& data_dir, JournalSync sync,
                                               std::uint64_t max_pages) {
    std::string path = (std::filesystem::path(data_dir) / kFileName).string();
    if (auto made = make_private_directory(data_dir); !made) return Error{"journal " + path + ": " + made.error()};

    sqlite3* db = nullptr;
    // One connection per Journal, used by one thread: SQLite's own mutexes would be wasted.
    const int opened =
        sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    // The journal owns the handle even when opening failed, so that it is always closed.
    std::unique_ptr<Journal> journal(new Journal(db, std::move(path)));
    if (opened != SQLITE_OK) return journal->sqlite_failure("open");
    if (auto done = journal->configure(sync, max_pages); !done) return done.failure();
    if (auto done = journal->create_schema(); !done) return done.failure();
    if (auto done = journal->prepare_statements(); !done) return done.failure();
    return journal;
}

Status Journal::configure(JournalSync sync, std::uint64_t max_pages) {
    sqlite3_busy_timeout(db_, kBusyTimeoutMs);

    // WAL lets readers (zq-send, status queries) run beside the node's writes, and makes a
    // commit one append to the log instead of a rewrite of the pages.
    std::string mode;
    if (query_first(db_, "PRAGMA journal_mode=WAL", mode) != SQLITE_OK) return sqlite_failure("switch to WAL mode");
    if (mode != "wal") return failure("switch to WAL mode", {}, "SQLite kept journal mode '" + mode + "'");

    // In WAL mode NORMAL syncs only at checkpoints: a commit survives the process dying but
    // not the machine losing power. FULL syncs the log at every commit.
    const char* synchronous = sync == JournalSync::full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL";
    if (sqlite3_exec(db_, synchronous, nullptr, nullptr, nullptr) != SQLITE_OK) {
        return sqlite_failure("set synchronous mode");
    }

    if (max_pages != 0) {
        const std::string sql = "PRAGMA max_page_count=" + std::to_string(max_pages);
        std::string ignored;
        if (query_first(db_, sql.c_str(), ignored) != SQLITE_OK) return sqlite_failure("set max_page_count");
    }
    return success();
}

Status Journal::create_schema() {
    // In one immediate transaction, so that two processes creating the journal at once do not
    // interleave and a failure leaves no half-made schema.
    const std::string sql = "BEGIN IMMEDIATE;\n" + schema_sql() + "COMMIT;\n";
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) {
        Error failed = sqlite_failure("create the schema");
        if (!sqlite3_get_autocommit(db_)) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
        return failed;
    }

    std::string version;
    if (query_first(db_, "SELECT value FROM meta WHERE key = 'schema_version'", version) != SQLITE_OK) {
        return sqlite_failure("read the schema version");
    }
    if (std::find(std::begin(kUpgradableVersions), std::end(kUpgradableVersions), version) !=
        std::end(kUpgradableVersions)) {
        std::vector<std::string> columns;
        auto keep_name = [](void* out, int, char** values, char**) {
            static_cast<std::vector<std::string>*>(out)->emplace_back(values[1] ? values[1] : "");
            return 0;
        };
        if (sqlite3_exec(db_, "PRAGMA table_info(jobs)", keep_name, &columns, nullptr) != SQLITE_OK) {
            return sqlite_failure("read the columns of the jobs table");
        }
        const std::string upgrade = upgrade_sql(columns);
        if (sqlite3_exec(db_, upgrade.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) {
            Error failed = sqlite_failure("upgrade the journal from version " + version);
            if (!sqlite3_get_autocommit(db_)) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
            return failed;
        }
        version = kSchemaVersion;
    }
    if (version != kSchemaVersion) {
        return failure("check the schema version", {},
                       "the journal has version '" + version + "', this zq reads version " +
                           std::string(kSchemaVersion) + ": run the zq that wrote it, or move the journal aside");
    }
    return success();
}

Status Journal::prepare_statements() {
    auto statements = std::make_unique<Statements>();
    const std::string columns = column_list();
    const std::pair<Statement*, std::string> plans[] = {
        {&statements->begin, "BEGIN IMMEDIATE"},
        {&statements->commit, "COMMIT"},
        {&statements->rollback, "ROLLBACK"},
        {&statements->insert_job, insert_sql()},
        {&statements->update_state,
         "UPDATE jobs SET state = ?2, result = ?3, error = ?4, node = ?5, updated_ms = ?6, attempts = ?7, "
         "next_attempt_ms = ?8 WHERE id = ?1"},
        {&statements->request_cancel, "UPDATE jobs SET cancel_requested = 1, updated_ms = ?2 WHERE id = ?1"},
        {&statements->acknowledge_report, "UPDATE jobs SET report_pending = 0 WHERE id = ?1"},
        {&statements->reopen_report, "UPDATE jobs SET report_pending = 1 WHERE id = ?1"},
        {&statements->find, "SELECT " + columns + " FROM jobs WHERE id = ?1"},
        // Few rows ever match (reports the origin has not acknowledged yet), and the scan
        // runs once at start-up, so no index is kept for it.
        {&statements->unacknowledged_reports,
         "SELECT " + columns + " FROM jobs WHERE report_pending = 1 AND NOT (" + unfinished_condition() +
             ") ORDER BY updated_ms, id"},
        {&statements->unfinished,
         "SELECT " + columns + " FROM jobs WHERE " + unfinished_condition() + " ORDER BY created_ms, id"},
        {&statements->count_by_state, "SELECT state, count(*) FROM jobs GROUP BY state"},
        {&statements->purge_terminal, "DELETE FROM jobs WHERE NOT (" + unfinished_condition() + ") AND updated_ms < ?1"},
        {&statements->insert_claim, "INSERT OR IGNORE INTO claims (id, node, created_ms) VALUES (?1, ?2, ?3)"},
        {&statements->find_claim, "SELECT node FROM claims WHERE id = ?1"},
        {&statements->any_claim, "SELECT EXISTS (SELECT 1 FROM claims)"},
        {&statements->purge_claims, "DELETE FROM claims WHERE created_ms < ?1"},
        {&statements->find_job_holder, "SELECT origin, state FROM jobs WHERE id = ?1"},
        // Only a job that never left `accepted` (it waited for its claim) may go.
        {&statements->delete_unclaimed_job,
         "DELETE FROM jobs WHERE id = ?1 AND state = '" + std::string(to_string(JobState::accepted)) + "'"},
        {&statements->hand_back_later,
         "INSERT INTO claims (id, node, created_ms, hint) VALUES (?1, ?2, ?3, ?4) "
         "ON CONFLICT (id) DO UPDATE SET hint = excluded.hint"},
        // "hint <> ''" in each: that is how SQLite knows it may use the partial index.
        {&statements->hinted_homes, "SELECT DISTINCT hint FROM claims WHERE hint <> ''"},
        {&statements->hints_for, "SELECT id, node FROM claims WHERE hint <> '' AND hint = ?1 ORDER BY id"},
        {&statements->clear_hints, "UPDATE claims SET hint = '' WHERE hint <> '' AND hint = ?1"},
        {&statements->record_schedule_tick,
         "INSERT OR REPLACE INTO schedules (name, last_tick_ms, last_job_id) VALUES (?1, ?2, ?3)"},
        {&statements->forget_schedule, "DELETE FROM schedules WHERE name = ?1"},
        {&statements->schedule_marks, "SELECT name, last_tick_ms, last_job_id FROM schedules ORDER BY name"},
    };
    for (const auto& [slot, sql] : plans) {
        sqlite3_stmt* prepared = nullptr;
        // PERSISTENT: these statements live as long as the journal, SQLite places them accordingly.
        if (sqlite3_prepare_v3(db_, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &prepared, nullptr) != SQLITE_OK) {
            return sqlite_failure("prepare \"" + sql + "\"");
        }
        slot->reset(prepared);
    }
    statements_ = std::move(statements);
    return success();
}

Result<bool> Journal::insert_job(const JobRecord& job) {
    if (auto begun = begin_if_needed(); !begun) return begun.failure();
    sqlite3_stmt* statement = statements_->insert_job.get();
    StatementUse use(statement);
    if (!bind_job(statement, job)) return sqlite_failure("insert job", job.id);
    if (auto stepped = step_write(statement, "insert job", job.id); !stepped) return stepped.failure();
    // INSERT OR IGNORE changes nothing when the id is already there.
    return sqlite3_changes(db_) > 0;
}

Status Journal::update_state(const JobRecord& job) {
    if (auto begun = begin_if_needed(); !begun) return begun;
    sqlite3_stmt* statement = statements_->update_state.get();
    StatementUse use(statement);
    const bool bound = bind_text(statement, 1, job.id) && bind_text(statement, 2, to_string(job.state)) &&
                       bind_blob(statement, 3, job.result) && bind_text(statement, 4, job.error) &&
                       bind_text(statement, 5, job.node) && bind_integer(statement, 6, job.updated_ms) &&
                       bind_integer(statement, 7, job.attempts) && bind_integer(statement, 8, job.next_attempt_ms);
    if (!bound) return sqlite_failure("update state of job", job.id);
    return step_update(statement, "update state of job", job.id);
}

Status Journal::request_cancel(std::string_view id, std::int64_t now_ms) {
    if (auto begun = begin_if_needed(); !begun) return begun;
    sqlite3_stmt* statement = statements_->request_cancel.get();
    StatementUse use(statement);
    if (!bind_text(statement, 1, id) || !bind_integer(statement, 2, now_ms)) {
        return sqlite_failure("request cancel of job", id);
    }
    return step_update(statement, "request cancel of job", id);
}

Status Journal::acknowledge_report(std::string_view id) {
    if (auto begun = begin_if_needed(); !begun) return begun;
    sqlite3_stmt* statement = statements_->acknowledge_report.get();
    StatementUse use(statement);
    if (!bind_text(statement, 1, id)) return sqlite_failure("acknowledge report of job", id);
    return step_update(statement, "acknowledge report of job", id);
}

Status Journal::reopen_report(std::string_view id) {
    if (auto begun = begin_if_needed(); !begun) return begun;
    sqlite3_stmt* statement = statements_->reopen_report.get();
    StatementUse use(statement);
    if (!bind_text(statement, 1, id)) return sqlite_failure("reopen report of job", id);
    return step_update(statement, "reopen report of job", id);
}

Status Journal::set_max_pages(std::uint64_t max_pages) {
    // SQLite's own ceiling stands for "unbounded".
    constexpr std::uint64_t kSqliteMaxPages = 4294967294ULL;
    const std::string sql = "PRAGMA max_page_count=" + std::to_string(max_pages == 0 ? kSqliteMaxPages : max_pages);
    std::string ignored;
    if (query_first(db_, sql.c_str(), ignored) != SQLITE_OK) return sqlite_failure("set max_page_count");
    return success();
}

Status Journal::record_schedule_tick(std::string_view name, std::int64_t tick_ms, std::string_view job_id) {
    if (auto begun = begin_if_needed(); !begun) return begun;
    sqlite3_stmt* statement = statements_->record_schedule_tick.get();
    StatementUse use(statement);
    if (!bind_text(statement, 1, name) || !bind_integer(statement, 2, tick_ms) || !bind_text(statement, 3, job_id)) {
        return sqlite_failure("record the tick of schedule", name);
    }
    return step_write(statement, "record the tick of schedule", name);
}

Status Journal::forget_schedule(std::string_view name) {
    if (auto begun = begin_if_needed(); !begun) return begun;
    sqlite3_stmt* statement = statements_->forget_schedule.get();
    StatementUse use(statement);
    if (!bind_text(statement, 1, name)) return sqlite_failure("forget schedule", name);
    return step_write(statement, "forget schedule", name);
}

Result<std::vector<ScheduleMark>> Journal::schedule_marks() {
    sqlite3_stmt* statement = statements_->schedule_marks.get();
    StatementUse use(statement);
    std::vector<ScheduleMark> marks;
    int stepped = SQLITE_ROW;
    while ((stepped = sqlite3_step(statement)) == SQLITE_ROW) {
        auto text = [statement](int column) {
            const auto* bytes = reinterpret_cast<const char*>(sqlite3_column_text(statement, column));
            return std::string(bytes ? bytes : "");
        };
        marks.push_back({text(0), sqlite3_column_int64(statement, 1), text(2)});
    }
    if (stepped != SQLITE_DONE) return sqlite_failure("list schedule marks");
    return marks;
}

Status Journal::commit() {
    if (!in_transaction_) return success();
    if (sqlite3_get_autocommit(db_)) {
        // Only reachable if SQLite ended the transaction after an error we did not see.
        in_transaction_ = false;
        return failure("commit", {}, "SQLite had already ended the transaction" + std::string(kRolledBackNote));
    }
    sqlite3_stmt* statement = statements_->commit.get();
    StatementUse use(statement);
    if (auto stepped = step_write(statement, "commit", {}); !stepped) return stepped;
    in_transaction_ = false;
    return success();
}

void Journal::rollback() {
    // Asks SQLite rather than in_transaction_: after some errors SQLite has already rolled back.
    if (!sqlite3_get_autocommit(db_)) {
        sqlite3_stmt* statement = statements_->rollback.get();
        StatementUse use(statement);
        sqlite3_step(statement);
    }
    in_transaction_ = false;
}

Result<std::optional<JobRecord>> Journal::find(std::string_view id) {
    sqlite3_stmt* statement = statements_->find.get();
    StatementUse use(statement);
    if (!bind_text(statement, 1, id)) return sqlite_failure("find job", id);
    const int stepped = sqlite3_step(statement);
    if (stepped == SQLITE_DONE) return std::optional<JobRecord>();
    if (stepped != SQLITE_ROW) return sqlite_failure("find job", id);
    auto job = read_job(statement, "find job");
    if (!job) return job.failure();
    return std::optional<JobRecord>(std::move(*job));
}

Result<std::vector<JobRecord>> Journal::unfinished() {
    sqlite3_stmt* statement = statements_->unfinished.get();
    StatementUse use(statement);
    std::vector<JobRecord> jobs;
    int stepped = SQLITE_ROW;
    while ((stepped = sqlite3_step(statement)) == SQLITE_ROW) {
        auto job = read_job(statement, "list unfinished jobs");
        if (!job) return job.failure();
        jobs.push_back(std::move(*job));
    }
    if (stepped != SQLITE_DONE) return sqlite_failure("list unfinished jobs");
    return jobs;
}

Result<std::vector<JobRecord>> Journal::unacknowledged_reports() {
    sqlite3_stmt* statement = statements_->unacknowledged_reports.get();
    StatementUse use(statement);
    std::vector<JobRecord> jobs;
    int stepped = SQLITE_ROW;
    while ((stepped = sqlite3_step(statement)) == SQLITE_ROW) {
        auto job = read_job(statement, "list unacknowledged reports");
        if (!job) return job.failure();
        jobs.push_back(std::move(*job));
    }
    if (stepped != SQLITE_DONE) return sqlite_failure("list unacknowledged reports");
    return jobs;
}

Result<std::map<JobState, std::uint64_t>> Journal::count_by_state() {
    sqlite3_stmt* statement = statements_->count_by_state.get();
    StatementUse use(statement);
    std::map<JobState, std::uint64_t> counts;
    int stepped = SQLITE_ROW;
    while ((stepped = sqlite3_step(statement)) == SQLITE_ROW) {
        const auto* name = reinterpret_cast<const char*>(sqlite3_column_text(statement, 0));
        auto state = job_state_from_string(name ? name : "");
        if (!state) return failure("count jobs by state", {}, "unknown state '" + std::string(name ? name : "") + "'");
        counts[*state] = static_cast<std::uint64_t>(sqlite3_column_int64(statement, 1));
    }
    if (stepped != SQLITE_DONE) return sqlite_failure("count jobs by state");
    return counts;
}

Result<std::uint64_t> Journal::purge_terminal_before(std::int64_t before_ms) {
    if (auto begun = begin_if_needed(); !begun) return begun.failure();
    std::uint64_t purged = 0;
    {
        sqlite3_stmt* statement = statements_->purge_terminal.get();
        StatementUse use(statement);
        if (!bind_integer(statement, 1, before_ms)) return sqlite_failure("purge terminal jobs");
        if (auto stepped = step_write(statement, "purge terminal jobs", {}); !stepped) return stepped.failure();
        purged = static_cast<std::uint64_t>(sqlite3_changes64(db_));
    }
    // Claims go with the same retention, in the same transaction.
    sqlite3_stmt* statement = statements_->purge_claims.get();
    StatementUse use(statement);
    if (!bind_integer(statement, 1, before_ms)) return sqlite_failure("purge claims");
    if (auto stepped = step_write(statement, "purge claims", {}); !stepped) return stepped.failure();
    return purged;
}

Result<bool> Journal::insert_claim(std::string_view id, std::string_view node, std::int64_t now_ms) {
    if (auto begun = begin_if_needed(); !begun) return begun.failure();
    sqlite3_stmt* statement = statements_->insert_claim.get();
    StatementUse use(statement);
    if (!bind_text(statement, 1, id) || !bind_text(statement, 2, node) || !bind_integer(statement, 3, now_ms)) {
        return sqlite_failure("record claim of job", id);
    }
    if (auto stepped = step_write(statement, "record claim of job", id); !stepped) return stepped.failure();
    return sqlite3_changes(db_) > 0;
}

Result<std::optional<std::string>> Journal::find_claim(std::string_view id) {
    sqlite3_stmt* statement = statements_->find_claim.get();
    StatementUse use(statement);
    if (!bind_text(statement, 1, id)) return sqlite_failure("find claim of job", id);
    const int stepped = sqlite3_step(statement);
    if (stepped == SQLITE_DONE) return std::optional<std::string>();
    if (stepped != SQLITE_ROW) return sqlite_failure("find claim of job", id);
    const auto* node = reinterpret_cast<const char*>(sqlite3_column_text(statement, 0));
    return std::optional<std::string>(node ? node : "");
}

Result<bool> Journal::has_claims() {
    sqlite3_stmt* statement = statements_->any_claim.get();
    StatementUse use(statement);
    if (sqlite3_step(statement) != SQLITE_ROW) return sqlite_failure("look for claims");
    return sqlite3_column_int(statement, 0) != 0;
}

Result<std::optional<JobHolder>> Journal::find_job_holder(std::string_view id) {
    sqlite3_stmt* statement = statements_->find_job_holder.get();
    StatementUse use(statement);
    if (!bind_text(statement, 1, id)) return sqlite_failure("find job", id);
    const int stepped = sqlite3_step(statement);
    if (stepped == SQLITE_DONE) return std::optional<JobHolder>();
    if (stepped != SQLITE_ROW) return sqlite_failure("find job", id);
    const auto* origin = reinterpret_cast<const char*>(sqlite3_column_text(statement, 0));
    const auto* state_name = reinterpret_cast<const char*>(sqlite3_column_text(statement, 1));
    auto state = job_state_from_string(state_name ? state_name : "");
    if (!state) return failure("find job", id, "unknown state '" + std::string(state_name ? state_name : "") + "'");
    return std::optional<JobHolder>(JobHolder{origin ? origin : "", *state});
}

Status Journal::hand_back_later(std::string_view id, std::string_view holder, std::string_view home,
                                std::int64_t now_ms) {
    if (auto begun = begin_if_needed(); !begun) return begun;
    sqlite3_stmt* statement = statements_->hand_back_later.get();
    StatementUse use(statement);
    const bool bound = bind_text(statement, 1, id) && bind_text(statement, 2, holder) &&
                       bind_integer(statement, 3, now_ms) && bind_text(statement, 4, home);
    if (!bound) return sqlite_failure("note the claim of job", id);
    return step_write(statement, "note the claim of job", id);
}

Result<std::vector<std::string>> Journal::hinted_homes() {
    sqlite3_stmt* statement = statements_->hinted_homes.get();
    StatementUse use(statement);
    std::vector<std::string> homes;
    int stepped = SQLITE_ROW;
    while ((stepped = sqlite3_step(statement)) == SQLITE_ROW) {
        const auto* home = reinterpret_cast<const char*>(sqlite3_column_text(statement, 0));
        homes.emplace_back(home ? home : "");
    }
    if (stepped != SQLITE_DONE) return sqlite_failure("list the homes owed claims");
    return homes;
}

Result<std::vector<std::pair<std::string, std::string>>> Journal::hints_for(std::string_view home) {
    sqlite3_stmt* statement = statements_->hints_for.get();
    StatementUse use(statement);
    if (!bind_text(statement, 1, home)) return sqlite_failure("list the claims owed to", home);
    std::vector<std::pair<std::string, std::string>> claims;
    int stepped = SQLITE_ROW;
    while ((stepped = sqlite3_step(statement)) == SQLITE_ROW) {
        const auto* id = reinterpret_cast<const char*>(sqlite3_column_text(statement, 0));
        const auto* node = reinterpret_cast<const char*>(sqlite3_column_text(statement, 1));
        claims.emplace_back(id ? id : "", node ? node : "");
    }
    if (stepped != SQLITE_DONE) return sqlite_failure("list the claims owed to", home);
    return claims;
}

Status Journal::clear_hints(std::string_view home) {
    if (auto begun = begin_if_needed(); !begun) return begun;
    sqlite3_stmt* statement = statements_->clear_hints.get();
    StatementUse use(statement);
    if (!bind_text(statement, 1, home)) return sqlite_failure("forget the claims owed to", home);
    return step_write(statement, "forget the claims owed to", home);
}

Status Journal::delete_unclaimed_job(std::string_view id) {
    if (auto begun = begin_if_needed(); !begun) return begun;
    sqlite3_stmt* statement = statements_->delete_unclaimed_job.get();
    StatementUse use(statement);
    if (!bind_text(statement, 1, id)) return sqlite_failure("delete unclaimed job", id);
    return step_update(statement, "delete unclaimed job", id);
}

Status Journal::begin_if_needed() {
    if (in_transaction_) return success();
    sqlite3_stmt* statement = statements_->begin.get();
    StatementUse use(statement);
    // IMMEDIATE takes the write lock now, waiting up to the busy timeout for another writer,
    // instead of failing later in the middle of the batch.
    if (sqlite3_step(statement) != SQLITE_DONE) return sqlite_failure("begin a transaction");
    in_transaction_ = true;
    return success();
}

Status Journal::step_write(sqlite3_stmt* statement, std::string_view what, std::string_view id) {
    if (sqlite3_step(statement) == SQLITE_DONE) return success();
    Error failed = failure(what, id, sqlite3_errmsg(db_));
    // For a full disk SQLite may roll back the whole transaction by itself, or only the
    // statement; rolling back the rest too gives the caller one rule: the batch is lost.
    sqlite3_reset(statement);
    rollback();
    failed.message += kRolledBackNote;
    return failed;
}

Status Journal::step_update(sqlite3_stmt* statement, std::string_view what, std::string_view id) {
    if (auto stepped = step_write(statement, what, id); !stepped) return stepped;
    if (sqlite3_changes(db_) == 0) return failure(what, id, "no such job", ErrorCode::not_found);
    return success();
}

Result<JobRecord> Journal::read_job(sqlite3_stmt* statement, std::string_view what) const {
    JobRecord job;
    job.id = column_bytes(statement, Column::id);
    const std::string state_name = column_bytes(statement, Column::state);
    auto state = job_state_from_string(state_name);
    if (!state) return failure(what, {}, "job " + job.id + " has an unknown state '" + state_name + "'");
    job.state = *state;
    job.task = column_bytes(statement, Column::task);
    job.queue = column_bytes(statement, Column::queue);
    job.target = column_bytes(statement, Column::target);
    job.priority = column_integer(statement, Column::priority);
    job.args = column_bytes(statement, Column::args);
    job.kwargs = column_bytes(statement, Column::kwargs);
    job.headers = column_bytes(statement, Column::headers);
    job.soft_time_limit = column_real(statement, Column::soft);
    job.hard_time_limit = column_real(statement, Column::hard);
    job.max_retries = static_cast<std::uint32_t>(column_integer(statement, Column::max_retries));
    job.retry_delay = column_real(statement, Column::retry_delay);
    job.attempts = static_cast<std::uint32_t>(column_integer(statement, Column::attempts));
    job.result = column_bytes(statement, Column::result);
    job.error = column_bytes(statement, Column::error);
    job.node = column_bytes(statement, Column::node);
    job.cancel_requested = column_integer(statement, Column::cancel_requested) != 0;
    job.created_ms = column_integer(statement, Column::created_ms);
    job.updated_ms = column_integer(statement, Column::updated_ms);
    job.origin = column_bytes(statement, Column::origin);
    job.report_pending = column_integer(statement, Column::report_pending) != 0;
    job.carried = column_bytes(statement, Column::carried);
    job.eta_ms = column_integer(statement, Column::eta_ms);
    job.expires_ms = column_integer(statement, Column::expires_ms);
    job.next_attempt_ms = column_integer(statement, Column::next_attempt_ms);
    job.retry_backoff = column_real(statement, Column::retry_backoff);
    job.retry_backoff_max = column_real(statement, Column::retry_backoff_max);
    job.retry_jitter = column_integer(statement, Column::retry_jitter) != 0;
    job.retry_on_worker_lost = column_integer(statement, Column::retry_on_worker_lost) != 0;
    job.unique_key = column_bytes(statement, Column::ukey);
    job.unique_policy = column_bytes(statement, Column::upol);
    job.key_concurrency = static_cast<std::uint32_t>(column_integer(statement, Column::kconc));
    job.weight = static_cast<std::uint32_t>(std::max<std::int64_t>(1, column_integer(statement, Column::weight)));
    job.exclusive = column_integer(statement, Column::exclusive) != 0;
    return job;
}

Error Journal::failure(std::string_view what, std::string_view id, std::string_view reason, ErrorCode code) const {
    std::string message = "journal " + path_ + ": " + std::string(what);
    if (!id.empty()) message += " " + std::string(id);
    message += ": " + std::string(reason);
    return Error{std::move(message), code};
}

Error Journal::sqlite_failure(std::string_view what, std::string_view id) {
    Error failed = failure(what, id, sqlite3_errmsg(db_));
    if (in_transaction_ && sqlite3_get_autocommit(db_)) {
        in_transaction_ = false;
        failed.message += kRolledBackNote;
    }
    return failed;
}

}  // namespace zq::node
