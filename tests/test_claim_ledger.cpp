// The claim ledger (claim_ledger.hpp) on a real journal in a fresh directory: who holds an
// id, first claim wins, claims are idempotent, and they are as durable as the turn's commit.
#include "claim_ledger.hpp"
#include "support/node_process.hpp"

#include <catch2/catch.hpp>

#include <memory>
#include <string>

using namespace zq;
using namespace zq::node;

namespace {

std::unique_ptr<Journal> open_journal(const std::string& dir) {
    auto journal = Journal::open(dir, JournalSync::normal);
    REQUIRE(journal);
    return std::move(*journal);
}

JobRecord job_record(std::string id, JobState state, std::string origin = {}) {
    JobRecord job;
    job.id = std::move(id);
    job.task = "noop";
    job.state = state;
    job.origin = std::move(origin);
    job.created_ms = job.updated_ms = 1000;
    return job;
}

std::string holder(ClaimLedger& ledger, const std::string& id, const std::string& node, std::int64_t now = 1000) {
    auto decided = ledger.claim(id, node, now);
    REQUIRE(decided);
    return decided->holder;
}

}  // namespace

TEST_CASE("the first node to claim an id holds it, and later claims are told which node that is") {
    test::TempDir dir;
    auto journal = open_journal(dir.path());
    ClaimLedger ledger(*journal, "home");
    REQUIRE(ledger.load());
    CHECK(ledger.empty());

    CHECK(holder(ledger, "job-1", "a") == "a");
    CHECK_FALSE(ledger.empty());
    CHECK(holder(ledger, "job-1", "b") == "a");
    CHECK(holder(ledger, "job-1", "c") == "a");
    // The home itself asks the same ledger for its own submissions.
    CHECK(holder(ledger, "job-1", "home") == "a");
    // Another id is free.
    CHECK(holder(ledger, "job-2", "b") == "b");
}

TEST_CASE("a claim of an id by the node that holds it is granted again") {
    test::TempDir dir;
    auto journal = open_journal(dir.path());
    ClaimLedger ledger(*journal, "home");
    REQUIRE(ledger.load());
    CHECK(holder(ledger, "job-1", "a") == "a");
    // The answer was lost and the claim sent again; or the node restarted and claims again.
    CHECK(holder(ledger, "job-1", "a") == "a");
    REQUIRE(journal->commit());
    CHECK(holder(ledger, "job-1", "a") == "a");
}

TEST_CASE("the home's own jobs count as held by the home, with their state, and forwarded ones by their origin") {
    test::TempDir dir;
    auto journal = open_journal(dir.path());
    REQUIRE(journal->insert_job(job_record("mine", JobState::running)));
    REQUIRE(journal->insert_job(job_record("forwarded", JobState::queued, "b")));
    REQUIRE(journal->commit());
    ClaimLedger ledger(*journal, "home");
    REQUIRE(ledger.load());

    auto mine = ledger.claim("mine", "a", 1000);
    REQUIRE(mine);
    CHECK(mine->holder == "home");
    CHECK(mine->state == JobState::running);
    auto forwarded = ledger.claim("forwarded", "a", 1000);
    REQUIRE(forwarded);
    CHECK(forwarded->holder == "b");
    CHECK_FALSE(forwarded->state);
    // Neither needed a row of its own.
    CHECK_FALSE(*journal->find_claim("mine"));
    CHECK_FALSE(*journal->find_claim("forwarded"));
}

TEST_CASE("the home's own claim is granted without a row, unless another node holds the id") {
    test::TempDir dir;
    auto journal = open_journal(dir.path());
    ClaimLedger ledger(*journal, "home");
    REQUIRE(ledger.load());
    CHECK(holder(ledger, "job-1", "home") == "home");
    CHECK_FALSE(*journal->find_claim("job-1"));
    CHECK(ledger.empty());
    CHECK(holder(ledger, "job-2", "a") == "a");
    CHECK(holder(ledger, "job-2", "home") == "a");
}

TEST_CASE("a claim is kept only if the turn that made it commits") {
    test::TempDir dir;
    auto journal = open_journal(dir.path());
    {
        ClaimLedger ledger(*journal, "home");
        REQUIRE(ledger.load());
        CHECK(holder(ledger, "kept", "a") == "a");
        REQUIRE(journal->commit());
        CHECK(holder(ledger, "undone", "a") == "a");
        journal->rollback();
        CHECK(holder(ledger, "undone", "b") == "b");
        REQUIRE(journal->commit());
    }
    // Reopened, as after a restart of the home.
    journal.reset();
    journal = open_journal(dir.path());
    ClaimLedger ledger(*journal, "home");
    REQUIRE(ledger.load());
    CHECK_FALSE(ledger.empty());
    CHECK(holder(ledger, "kept", "c") == "a");
    CHECK(holder(ledger, "undone", "c") == "b");
}

TEST_CASE("a decision learned from another home is kept, and never replaces one already kept") {
    test::TempDir dir;
    auto journal = open_journal(dir.path());
    ClaimLedger ledger(*journal, "home");
    REQUIRE(ledger.load());
    REQUIRE(ledger.learn("job-1", "b", 1000));
    CHECK(holder(ledger, "job-1", "a") == "b");
    REQUIRE(ledger.learn("job-1", "c", 1000));
    CHECK(holder(ledger, "job-1", "a") == "b");
}

TEST_CASE("claims are purged with the retention of terminal jobs") {
    test::TempDir dir;
    auto journal = open_journal(dir.path());
    ClaimLedger ledger(*journal, "home");
    REQUIRE(ledger.load());
    CHECK(holder(ledger, "old", "a", 1000) == "a");
    CHECK(holder(ledger, "new", "a", 5000) == "a");
    REQUIRE(journal->commit());
    REQUIRE(journal->purge_terminal_before(2000));
    REQUIRE(journal->commit());
    CHECK_FALSE(*journal->find_claim("old"));
    CHECK(*journal->find_claim("new") == std::optional<std::string>("a"));
    CHECK(holder(ledger, "old", "b") == "b");
}

TEST_CASE("a copy that lost its claim is deleted only while it is still accepted") {
    test::TempDir dir;
    auto journal = open_journal(dir.path());
    REQUIRE(journal->insert_job(job_record("waiting", JobState::accepted)));
    REQUIRE(journal->insert_job(job_record("running", JobState::running)));
    REQUIRE(journal->commit());
    REQUIRE(journal->delete_unclaimed_job("waiting"));
    auto running = journal->delete_unclaimed_job("running");
    REQUIRE_FALSE(running);
    CHECK(running.error_code() == ErrorCode::not_found);
    REQUIRE(journal->commit());
    CHECK_FALSE(*journal->find("waiting"));
    CHECK(*journal->find("running"));
}
