// The journal against real SQLite files: each case gets a fresh data directory, removed after.
#include "journal.hpp"
#include "support/node_process.hpp"

#include <catch2/catch.hpp>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

using namespace zq;
using namespace zq::node;

namespace {

// Records a state change the way the dispatcher does: from a job record.
zq::Status update_state(zq::node::Journal& journal, std::string id, zq::JobState state, std::string result,
                        std::string error, std::string node, std::int64_t now_ms, std::uint32_t attempts = 0) {
    zq::node::JobRecord job;
    job.id = std::move(id);
    job.state = state;
    job.result = std::move(result);
    job.error = std::move(error);
    job.node = std::move(node);
    job.updated_ms = now_ms;
    job.attempts = attempts;
    return journal.update_state(job);
}

// A fresh directory for one case; removed with everything in it when the case ends.
class TempDir {
public:
    TempDir() {
        std::string pattern = (std::filesystem::temp_directory_path() / "zq-journal-test-XXXXXX").string();
        REQUIRE(::mkdtemp(pattern.data()) != nullptr);
        path_ = pattern;
    }
    ~TempDir() {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::string& path() const { return path_; }

private:
    std::string path_;
};

// A plain SQLite connection to the journal, standing in for another process or a person with
// the sqlite3 shell.
class RawConnection {
public:
    explicit RawConnection(const std::string& path) { REQUIRE(sqlite3_open(path.c_str(), &db_) == SQLITE_OK); }
    ~RawConnection() { sqlite3_close(db_); }
    RawConnection(const RawConnection&) = delete;
    RawConnection& operator=(const RawConnection&) = delete;

    void exec(const std::string& sql) {
        char* message = nullptr;
        const int done = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message);
        INFO((message ? message : ""));
        sqlite3_free(message);
        REQUIRE(done == SQLITE_OK);
    }

    // The first column of the first row, as text.
    std::string query(const std::string& sql) {
        std::string first;
        auto keep_first = [](void* out, int, char** values, char**) {
            auto& text = *static_cast<std::string*>(out);
            if (text.empty() && values[0]) text = values[0];
            return 0;
        };
        REQUIRE(sqlite3_exec(db_, sql.c_str(), keep_first, &first, nullptr) == SQLITE_OK);
        return first;
    }

private:
    sqlite3* db_ = nullptr;
};

std::unique_ptr<Journal> open_journal(const std::string& dir, std::uint64_t max_pages = 0) {
    auto journal = Journal::open(dir, JournalSync::normal, max_pages);
    INFO((journal ? std::string() : journal.error()));
    REQUIRE(journal);
    return std::move(*journal);
}

JobRecord make_job(std::string id, JobState state = JobState::accepted, std::int64_t created_ms = 1000) {
    JobRecord job;
    job.id = std::move(id);
    job.task = "add";
    job.args = "\x92\x01\x02";  // msgpack [1, 2]
    job.kwargs = "\x80";        // msgpack {}
    job.state = state;
    job.created_ms = created_ms;
    job.updated_ms = created_ms;
    return job;
}

void insert(Journal& journal, const JobRecord& job) {
    auto inserted = journal.insert_job(job);
    INFO((inserted ? std::string() : inserted.error()));
    REQUIRE(inserted);
    REQUIRE(*inserted);
}

void commit(Journal& journal) {
    auto committed = journal.commit();
    INFO((committed ? std::string() : committed.error()));
    REQUIRE(committed);
}

JobRecord find(Journal& journal, std::string_view id) {
    auto found = journal.find(id);
    INFO((found ? std::string() : found.error()));
    REQUIRE(found);
    REQUIRE(found->has_value());
    return **found;
}

bool exists(Journal& journal, std::string_view id) {
    auto found = journal.find(id);
    REQUIRE(found);
    return found->has_value();
}

std::vector<std::string> unfinished_ids(Journal& journal) {
    auto jobs = journal.unfinished();
    REQUIRE(jobs);
    std::vector<std::string> ids;
    for (const auto& job : *jobs) ids.push_back(job.id);
    return ids;
}

}  // namespace

TEST_CASE("a job inserted into the journal is found again with every field intact") {
    TempDir dir;
    auto journal = open_journal(dir.path());

    JobRecord job;
    job.id = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";
    job.task = "resize_image";
    job.queue = "media";
    job.target = "node-b";
    job.priority = -7;
    job.args = std::string("\x93\x01\x00\xc0", 4);  // binary, with a zero byte inside
    job.kwargs = "\x81\xa1k\xa1v";
    job.headers = "\x81\xa2tp\xa3x-y";
    job.soft_time_limit = 1.5;
    job.hard_time_limit = 2.25;
    job.max_retries = 4000000000u;
    job.retry_delay = 0.125;
    job.attempts = 3;
    job.state = JobState::retrying;
    job.result = std::string("\x00\xff", 2);
    job.error = "ValueError: bad size";
    job.node = "node-a";
    job.cancel_requested = true;
    job.created_ms = 1700000000123;
    job.updated_ms = 1700000000456;
    job.origin = "node-c";
    job.report_pending = true;
    job.carried = std::string("\x81\xa3" "eta\xcf\x00\x00\x01\x8b\xcf\xe5\x68\x00", 14);  // {eta: unix ms}
    insert(*journal, job);

    // Before and after the commit, from the same connection.
    for (int pass = 0; pass < 2; ++pass) {
        JobRecord found = find(*journal, job.id);
        CHECK(found.id == job.id);
        CHECK(found.task == job.task);
        CHECK(found.queue == job.queue);
        CHECK(found.target == job.target);
        CHECK(found.priority == job.priority);
        CHECK(found.args == job.args);
        CHECK(found.kwargs == job.kwargs);
        CHECK(found.headers == job.headers);
        CHECK(found.soft_time_limit == job.soft_time_limit);
        CHECK(found.hard_time_limit == job.hard_time_limit);
        CHECK(found.max_retries == job.max_retries);
        CHECK(found.retry_delay == job.retry_delay);
        CHECK(found.attempts == job.attempts);
        CHECK(found.state == job.state);
        CHECK(found.result == job.result);
        CHECK(found.error == job.error);
        CHECK(found.node == job.node);
        CHECK(found.cancel_requested == job.cancel_requested);
        CHECK(found.created_ms == job.created_ms);
        CHECK(found.updated_ms == job.updated_ms);
        CHECK(found.origin == job.origin);
        CHECK(found.report_pending == job.report_pending);
        CHECK(found.carried == job.carried);
        commit(*journal);
    }
}

TEST_CASE("a job that is not in the journal is found as nothing") {
    TempDir dir;
    auto journal = open_journal(dir.path());
    auto found = journal->find("no-such-job");
    REQUIRE(found);
    CHECK_FALSE(found->has_value());
}

TEST_CASE("the journal stores states by name so that it reads well by hand") {
    TempDir dir;
    auto journal = open_journal(dir.path());
    insert(*journal, make_job("a", JobState::waiting));
    commit(*journal);

    RawConnection raw(journal->path());
    CHECK(raw.query("SELECT state FROM jobs WHERE id = 'a'") == "waiting");
    CHECK(raw.query("PRAGMA journal_mode") == "wal");
    CHECK(raw.query("SELECT value FROM meta WHERE key = 'schema_version'") == "5");
}

TEST_CASE("inserting a job whose id is already journaled returns false and changes nothing") {
    TempDir dir;
    auto journal = open_journal(dir.path());
    insert(*journal, make_job("a"));
    commit(*journal);

    JobRecord again = make_job("a", JobState::running, 5000);
    again.task = "other";
    auto inserted = journal->insert_job(again);
    REQUIRE(inserted);
    CHECK_FALSE(*inserted);
    commit(*journal);

    JobRecord found = find(*journal, "a");
    CHECK(found.task == "add");
    CHECK(found.state == JobState::accepted);
    CHECK(found.created_ms == 1000);
}

TEST_CASE("a state change replaces the state, result, error, node and attempts of a job") {
    TempDir dir;
    auto journal = open_journal(dir.path());
    insert(*journal, make_job("a"));
    REQUIRE(update_state(*journal, "a", JobState::running, "", "", "node-a", 2000, 1));
    REQUIRE(update_state(*journal, "a", JobState::failed, "\xc0", "boom", "node-b", 3000, 2));
    commit(*journal);

    JobRecord found = find(*journal, "a");
    CHECK(found.state == JobState::failed);
    CHECK(found.result == "\xc0");
    CHECK(found.error == "boom");
    CHECK(found.node == "node-b");
    CHECK(found.attempts == 2);
    CHECK(found.updated_ms == 3000);
    CHECK(found.created_ms == 1000);
}

TEST_CASE("updating a job the journal does not have fails with not_found and changes nothing") {
    TempDir dir;
    auto journal = open_journal(dir.path());
    insert(*journal, make_job("a"));

    auto state = update_state(*journal, "ghost", JobState::running, "", "", "", 2000);
    REQUIRE_FALSE(state);
    CHECK(state.error_code() == ErrorCode::not_found);
    CHECK_THAT(state.error(), Catch::Contains("ghost") && Catch::Contains("no such job"));
    auto cancel = journal->request_cancel("ghost", 2000);
    REQUIRE_FALSE(cancel);
    CHECK(cancel.error_code() == ErrorCode::not_found);

    // An unknown id is the caller's mistake, not a failed write: the batch goes on.
    CHECK(journal->in_transaction());
    commit(*journal);
    CHECK(exists(*journal, "a"));
}

TEST_CASE("committed jobs are visible to another connection and uncommitted ones are not") {
    TempDir dir;
    auto writer = open_journal(dir.path());
    auto reader = open_journal(dir.path());

    insert(*writer, make_job("a"));
    CHECK(writer->in_transaction());
    CHECK_FALSE(exists(*reader, "a"));

    commit(*writer);
    CHECK_FALSE(writer->in_transaction());
    CHECK(exists(*reader, "a"));
}

TEST_CASE("rollback drops the writes since the last commit") {
    TempDir dir;
    auto journal = open_journal(dir.path());
    insert(*journal, make_job("a"));
    commit(*journal);

    insert(*journal, make_job("b"));
    REQUIRE(update_state(*journal, "a", JobState::running, "", "", "n", 2000));
    journal->rollback();

    CHECK_FALSE(journal->in_transaction());
    CHECK_FALSE(exists(*journal, "b"));
    CHECK(find(*journal, "a").state == JobState::accepted);
}

TEST_CASE("a failed write rolls back every write since the last commit and the journal goes on") {
    TempDir dir;
    auto journal = open_journal(dir.path());
    insert(*journal, make_job("a"));
    commit(*journal);

    // Another connection changes the schema under the open journal: the journal's prepared
    // insert is re-prepared, then refused for this one task name.
    RawConnection raw(journal->path());
    raw.exec(
        "CREATE TRIGGER refuse_boom BEFORE INSERT ON jobs WHEN NEW.task = 'boom' "
        "BEGIN SELECT RAISE(ABORT, 'refused by the test trigger'); END");

    insert(*journal, make_job("b"));
    JobRecord boom = make_job("c");
    boom.task = "boom";
    auto inserted = journal->insert_job(boom);
    REQUIRE_FALSE(inserted);
    CHECK_THAT(inserted.error(), Catch::StartsWith("journal " + journal->path() + ": insert job c: "));
    CHECK_THAT(inserted.error(), Catch::Contains("refused by the test trigger") && Catch::Contains("rolled back"));
    CHECK_FALSE(journal->in_transaction());
    CHECK_FALSE(exists(*journal, "b"));
    CHECK(exists(*journal, "a"));

    insert(*journal, make_job("d"));
    commit(*journal);
    CHECK(exists(*journal, "d"));
}

TEST_CASE("a journal destroyed without commit keeps the committed jobs and loses the rest") {
    TempDir dir;
    {
        auto journal = open_journal(dir.path());
        insert(*journal, make_job("committed"));
        commit(*journal);
        insert(*journal, make_job("uncommitted"));
        REQUIRE(update_state(*journal, "committed", JobState::running, "", "", "n", 2000));
    }
    auto reopened = open_journal(dir.path());
    CHECK(find(*reopened, "committed").state == JobState::accepted);
    CHECK_FALSE(exists(*reopened, "uncommitted"));
}

TEST_CASE("a process killed with SIGKILL keeps exactly the jobs it committed") {
    TempDir dir;
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        // No Catch2 in the child: any failure simply leaves jobs out, which the parent sees.
        auto opened = Journal::open(dir.path(), JournalSync::normal);
        if (opened) {
            auto& journal = **opened;
            (void)journal.insert_job(make_job("committed"));
            (void)journal.commit();
            (void)journal.insert_job(make_job("uncommitted"));
        }
        ::raise(SIGKILL);
        ::_exit(1);
    }
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    REQUIRE(WIFSIGNALED(status));

    auto journal = open_journal(dir.path());
    CHECK(exists(*journal, "committed"));
    CHECK_FALSE(exists(*journal, "uncommitted"));
}

TEST_CASE("unfinished lists the jobs not in a terminal state, oldest first") {
    TempDir dir;
    auto journal = open_journal(dir.path());
    insert(*journal, make_job("queued-30", JobState::queued, 30));
    insert(*journal, make_job("succeeded-20", JobState::succeeded, 20));
    insert(*journal, make_job("running-10", JobState::running, 10));
    insert(*journal, make_job("failed-5", JobState::failed, 5));
    insert(*journal, make_job("waiting-40", JobState::waiting, 40));
    insert(*journal, make_job("error-15", JobState::error, 15));
    insert(*journal, make_job("canceled-16", JobState::canceled, 16));
    insert(*journal, make_job("retrying-25", JobState::retrying, 25));
    insert(*journal, make_job("b-accepted-25", JobState::accepted, 25));
    commit(*journal);

    using Ids = std::vector<std::string>;
    // Equal creation times are ordered by id.
    CHECK(unfinished_ids(*journal) == Ids{"running-10", "b-accepted-25", "retrying-25", "queued-30", "waiting-40"});

    REQUIRE(update_state(*journal, "running-10", JobState::succeeded, "", "", "n", 50));
    commit(*journal);
    CHECK(unfinished_ids(*journal) == Ids{"b-accepted-25", "retrying-25", "queued-30", "waiting-40"});
}

TEST_CASE("count_by_state counts the jobs in each state") {
    TempDir dir;
    auto journal = open_journal(dir.path());
    CHECK(journal->count_by_state()->empty());

    insert(*journal, make_job("a", JobState::queued));
    insert(*journal, make_job("b", JobState::queued));
    insert(*journal, make_job("c", JobState::running));
    insert(*journal, make_job("d", JobState::succeeded));
    commit(*journal);

    auto counts = journal->count_by_state();
    REQUIRE(counts);
    std::map<JobState, std::uint64_t> expected = {
        {JobState::queued, 2}, {JobState::running, 1}, {JobState::succeeded, 1}};
    CHECK(*counts == expected);
}

TEST_CASE("purge_terminal_before deletes only terminal jobs last updated before the cutoff") {
    TempDir dir;
    auto journal = open_journal(dir.path());
    insert(*journal, make_job("succeeded-100", JobState::succeeded, 100));
    insert(*journal, make_job("error-150", JobState::error, 150));
    insert(*journal, make_job("failed-200", JobState::failed, 200));
    insert(*journal, make_job("canceled-300", JobState::canceled, 300));
    insert(*journal, make_job("running-50", JobState::running, 50));
    commit(*journal);

    auto purged = journal->purge_terminal_before(250);
    REQUIRE(purged);
    CHECK(*purged == 3);
    commit(*journal);

    CHECK_FALSE(exists(*journal, "succeeded-100"));
    CHECK_FALSE(exists(*journal, "error-150"));
    CHECK_FALSE(exists(*journal, "failed-200"));
    CHECK(exists(*journal, "canceled-300"));
    CHECK(exists(*journal, "running-50"));
}

TEST_CASE("a forwarded job keeps its origin, and its terminal report is listed until acknowledged") {
    TempDir dir;
    auto journal = open_journal(dir.path());
    JobRecord forwarded = make_job("f", JobState::running);
    forwarded.origin = "a";
    forwarded.report_pending = true;
    insert(*journal, forwarded);
    insert(*journal, make_job("local", JobState::running));
    commit(*journal);

    // Still running: there is nothing to report yet.
    auto pending = journal->unacknowledged_reports();
    REQUIRE(pending);
    CHECK(pending->empty());

    REQUIRE(update_state(*journal, "f", JobState::succeeded, "\x01", {}, "b", 2000));
    REQUIRE(update_state(*journal, "local", JobState::succeeded, "\x01", {}, "b", 2000));
    commit(*journal);
    pending = journal->unacknowledged_reports();
    REQUIRE(pending);
    REQUIRE(pending->size() == 1);
    CHECK(pending->front().id == "f");
    CHECK(pending->front().origin == "a");
    CHECK(pending->front().state == JobState::succeeded);

    REQUIRE(journal->acknowledge_report("f"));
    commit(*journal);
    pending = journal->unacknowledged_reports();
    REQUIRE(pending);
    CHECK(pending->empty());
    CHECK(find(*journal, "f").origin == "a");
    CHECK_FALSE(find(*journal, "f").report_pending);
    CHECK(journal->acknowledge_report("nope").error_code() == zq::ErrorCode::not_found);
}

TEST_CASE("a cancel request made through another connection is visible to the node") {
    TempDir dir;
    auto node = open_journal(dir.path());
    insert(*node, make_job("a", JobState::running));
    commit(*node);

    // As zq-send cancel --data does while the node runs.
    {
        auto tool = open_journal(dir.path());
        REQUIRE(tool->request_cancel("a", 7000));
        commit(*tool);
    }

    JobRecord found = find(*node, "a");
    CHECK(found.cancel_requested);
    CHECK(found.updated_ms == 7000);
    CHECK(found.state == JobState::running);
}

TEST_CASE("a full journal fails writes with 'database or disk is full' and recovers when there is room") {
    TempDir dir;
    // A cap of a few dozen pages stands in for a full disk.
    auto journal = open_journal(dir.path(), 24);

    // Old finished jobs, big enough that purging them frees several pages.
    for (int i = 0; i < 4; ++i) {
        JobRecord old = make_job("old-" + std::to_string(i), JobState::succeeded, 1);
        old.result = std::string(4000, 'r');
        insert(*journal, old);
    }
    commit(*journal);

    // Fill the journal one committed job at a time until a write is refused.
    std::string refusal;
    int committed = 0;
    for (int i = 0; i < 1000 && refusal.empty(); ++i) {
        JobRecord job = make_job("new-" + std::to_string(i), JobState::queued, 2);
        job.args = std::string(1000, 'a');
        auto inserted = journal->insert_job(job);
        if (!inserted) {
            refusal = inserted.error();
            break;
        }
        auto done = journal->commit();
        if (!done) refusal = done.error();
        else committed = i + 1;
    }
    INFO(refusal);
    REQUIRE(committed > 0);
    CHECK_THAT(refusal, Catch::StartsWith("journal " + journal->path() + ": "));
    CHECK_THAT(refusal, Catch::Contains("database or disk is full"));
    CHECK_FALSE(journal->in_transaction());

    // Everything committed before the refusal is intact and readable.
    CHECK(exists(*journal, "old-0"));
    CHECK(find(*journal, "new-" + std::to_string(committed - 1)).args == std::string(1000, 'a'));
    CHECK(unfinished_ids(*journal).size() == static_cast<std::size_t>(committed));

    // Purging frees room, and new writes work again.
    auto purged = journal->purge_terminal_before(2);
    INFO((purged ? std::string() : purged.error()));
    REQUIRE(purged);
    CHECK(*purged == 4);
    commit(*journal);
    JobRecord later = make_job("later", JobState::queued, 3);
    later.args = std::string(1000, 'a');
    insert(*journal, later);
    commit(*journal);
    CHECK(exists(*journal, "later"));
}

TEST_CASE("opening creates the data directory and its missing parents with mode 0700") {
    TempDir dir;
    const std::string data_dir = dir.path() + "/a/b/data";
    auto journal = open_journal(data_dir);
    CHECK(journal->path() == data_dir + "/journal.db");
    CHECK(std::filesystem::exists(journal->path()));
    for (const std::string& made : {dir.path() + "/a", dir.path() + "/a/b", data_dir}) {
        struct stat info {};
        REQUIRE(::stat(made.c_str(), &info) == 0);
        INFO(made);
        CHECK((info.st_mode & 0777) == 0700);
    }
}

TEST_CASE("opening fails with an error naming the journal when the data directory is a file") {
    TempDir dir;
    const std::string file = dir.path() + "/not-a-dir";
    std::FILE* created = std::fopen(file.c_str(), "w");
    REQUIRE(created);
    std::fclose(created);

    auto journal = Journal::open(file, JournalSync::full);
    REQUIRE_FALSE(journal);
    CHECK_THAT(journal.error(), Catch::StartsWith("journal " + file + "/journal.db: "));
}

TEST_CASE("a journal written by another schema version is refused, not misread") {
    TempDir dir;
    std::string path;
    {
        auto journal = open_journal(dir.path());
        path = journal->path();
    }
    RawConnection(path).exec("UPDATE meta SET value = '99' WHERE key = 'schema_version'");

    auto reopened = Journal::open(dir.path(), JournalSync::normal);
    REQUIRE_FALSE(reopened);
    CHECK_THAT(reopened.error(), Catch::Contains(path) && Catch::Contains("'99'"));
}

TEST_CASE("a version 2 journal is upgraded in place and keeps its jobs") {
    TempDir dir;
    std::string path;
    {
        auto journal = open_journal(dir.path());
        insert(*journal, make_job("old"));
        commit(*journal);
        path = journal->path();
    }
    // What version 2 was: the same table without the carried column.
    RawConnection raw(path);
    raw.exec("CREATE TABLE jobs_v2 AS SELECT * FROM jobs");
    raw.exec("ALTER TABLE jobs_v2 DROP COLUMN carried");
    raw.exec("DROP TABLE jobs");
    raw.exec("ALTER TABLE jobs_v2 RENAME TO jobs");
    raw.exec("UPDATE meta SET value = '2' WHERE key = 'schema_version'");

    auto reopened = open_journal(dir.path());
    JobRecord found = find(*reopened, "old");
    CHECK(found.task == make_job("old").task);
    CHECK(found.carried.empty());
    JobRecord fresh = make_job("new");
    fresh.carried = "\x81\xa3" "exp\x01";
    insert(*reopened, fresh);
    CHECK(find(*reopened, "new").carried == fresh.carried);
}

TEST_CASE("with background checkpoints the log is moved into the database by another thread, not by commits") {
    TempDir dir;
    auto journal = open_journal(dir.path());
    journal->checkpoint_in_background();
    // Enough commits to pass the 1,000-frame threshold several times over.
    for (int batch = 0; batch < 300; ++batch) {
        for (int i = 0; i < 10; ++i) insert(*journal, make_job("job-" + std::to_string(batch * 10 + i)));
        commit(*journal);
    }
    REQUIRE(zq::test::wait_until([&] { return journal->background_checkpoints() > 0; }));
    RawConnection raw(journal->path());
    CHECK(raw.query("SELECT count(*) FROM jobs") == "3000");
    CHECK(find(*journal, "job-2999").id == "job-2999");
}

TEST_CASE("a job's key, on_duplicate policy and key concurrency survive the journal, and a version 4 journal gains them") {
    TempDir dir;
    std::string path;
    {
        auto journal = open_journal(dir.path());
        JobRecord keyed = make_job("keyed");
        keyed.unique_key = "report:42";
        keyed.unique_policy = "serial";
        keyed.key_concurrency = 3;
        insert(*journal, keyed);
        insert(*journal, make_job("old"));
        commit(*journal);
        JobRecord found = find(*journal, "keyed");
        CHECK(found.unique_key == "report:42");
        CHECK(found.unique_policy == "serial");
        CHECK(found.key_concurrency == 3);
        path = journal->path();
    }
    // What version 4 was: the same table without the key and capacity columns.
    RawConnection raw(path);
    raw.exec("DELETE FROM jobs WHERE id = 'keyed'");
    for (const char* column : {"ukey", "upol", "kconc", "weight", "exclusive"}) raw.exec(std::string("ALTER TABLE jobs DROP COLUMN ") + column);
    raw.exec("UPDATE meta SET value = '4' WHERE key = 'schema_version'");
    auto reopened = open_journal(dir.path());
    JobRecord old = find(*reopened, "old");
    CHECK(old.unique_key.empty());
    CHECK(old.key_concurrency == 0);
    CHECK(old.weight == 1);
    CHECK(RawConnection(path).query("SELECT value FROM meta WHERE key = 'schema_version'") == "5");
}

TEST_CASE("a job's weight and exclusivity are journaled with it, and default to 1 and not exclusive") {
    TempDir dir;
    auto journal = open_journal(dir.path());
    JobRecord heavy;
    heavy.id = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a60";
    heavy.task = "render";
    heavy.weight = 5;
    heavy.exclusive = true;
    insert(*journal, heavy);
    JobRecord plain;
    plain.id = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a61";
    plain.task = "noop";
    insert(*journal, plain);
    commit(*journal);
    JobRecord found = find(*journal, heavy.id);
    CHECK(found.weight == 5);
    CHECK(found.exclusive);
    found = find(*journal, plain.id);
    CHECK(found.weight == 1);
    CHECK_FALSE(found.exclusive);
}
