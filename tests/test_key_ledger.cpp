// The key ledger (key_ledger.hpp) and the policy that gives a job its locks (key_policy.hpp):
// pure parts, tested without any process.
#include "key_ledger.hpp"
#include "key_policy.hpp"

#include "support/node_process.hpp"

#include <catch2/catch.hpp>

#include <fstream>

#include <string>
#include <vector>

using zq::node::Config;
using zq::node::JobRecord;
using zq::node::KeyAnswer;
using zq::node::KeyLedger;
using zq::node::KeyPolicy;
using zq::node::KeyRequest;
using zq::node::KeyVerdict;

namespace {

KeyRequest ask(std::string id, KeyPolicy policy, std::uint32_t limit = 1, std::string origin = "a") {
    return KeyRequest{std::move(id), "key:K", std::move(origin), policy, limit, false};
}

KeyVerdict verdict(const std::vector<KeyAnswer>& answers) {
    REQUIRE_FALSE(answers.empty());
    return answers.front().verdict;
}

std::vector<std::string> granted_ids(const std::vector<KeyAnswer>& answers) {
    std::vector<std::string> ids;
    for (const auto& answer : answers) {
        if (answer.verdict == KeyVerdict::granted) ids.push_back(answer.id);
    }
    return ids;
}

}  // namespace

TEST_CASE("serial grants one job of a key at a time, the others in the order they asked") {
    KeyLedger ledger;
    CHECK(verdict(ledger.acquire(ask("1", KeyPolicy::serial))) == KeyVerdict::granted);
    auto second = ledger.acquire(ask("2", KeyPolicy::serial));
    CHECK(verdict(second) == KeyVerdict::waiting);
    CHECK(second.front().why == "key K: 1 of 1 running");
    CHECK(verdict(ledger.acquire(ask("3", KeyPolicy::serial))) == KeyVerdict::waiting);
    CHECK(granted_ids(ledger.release("key:K", "1")) == std::vector<std::string>{"2"});
    CHECK(granted_ids(ledger.release("key:K", "2")) == std::vector<std::string>{"3"});
    CHECK(ledger.release("key:K", "3").empty());
    CHECK(ledger.empty());
}

TEST_CASE("discard drops a job while another of its key holds a slot or waits, and names it") {
    KeyLedger ledger;
    CHECK(verdict(ledger.acquire(ask("1", KeyPolicy::discard))) == KeyVerdict::granted);
    auto dropped = ledger.acquire(ask("2", KeyPolicy::discard));
    CHECK(verdict(dropped) == KeyVerdict::dropped);
    CHECK(dropped.front().dedup == "1");
    CHECK(dropped.front().why == "duplicate of 1 (key K)");
    ledger.release("key:K", "1");
    CHECK(verdict(ledger.acquire(ask("3", KeyPolicy::discard))) == KeyVerdict::granted);
}

TEST_CASE("queue_one lets one job wait behind the running one and drops the next, naming the waiting one") {
    KeyLedger ledger;
    CHECK(verdict(ledger.acquire(ask("1", KeyPolicy::queue_one))) == KeyVerdict::granted);
    CHECK(verdict(ledger.acquire(ask("2", KeyPolicy::queue_one))) == KeyVerdict::waiting);
    auto dropped = ledger.acquire(ask("3", KeyPolicy::queue_one));
    CHECK(verdict(dropped) == KeyVerdict::dropped);
    CHECK(dropped.front().dedup == "2");
    CHECK(granted_ids(ledger.release("key:K", "1")) == std::vector<std::string>{"2"});
    CHECK(verdict(ledger.acquire(ask("4", KeyPolicy::queue_one))) == KeyVerdict::waiting);
}

TEST_CASE("a throttle grants up to its limit and asking again is answered the same") {
    KeyLedger ledger;
    CHECK(verdict(ledger.acquire(ask("1", KeyPolicy::parallel, 2))) == KeyVerdict::granted);
    CHECK(verdict(ledger.acquire(ask("2", KeyPolicy::parallel, 2))) == KeyVerdict::granted);
    CHECK(verdict(ledger.acquire(ask("3", KeyPolicy::parallel, 2))) == KeyVerdict::waiting);
    CHECK(verdict(ledger.acquire(ask("1", KeyPolicy::parallel, 2))) == KeyVerdict::granted);
    CHECK(verdict(ledger.acquire(ask("3", KeyPolicy::parallel, 2))) == KeyVerdict::waiting);
    CHECK(ledger.holders("key:K") == 2);
    CHECK(ledger.waiters("key:K") == 1);
}

TEST_CASE("a lost origin's slots and places are freed and the next waiters granted") {
    KeyLedger ledger;
    ledger.acquire(ask("1", KeyPolicy::serial, 1, "b"));
    ledger.acquire(ask("2", KeyPolicy::serial, 1, "b"));
    ledger.acquire(ask("3", KeyPolicy::serial, 1, "c"));
    auto answers = ledger.forget_origin("b");
    REQUIRE(answers.size() == 1);
    CHECK(answers.front().id == "3");
    CHECK(answers.front().origin == "c");
    CHECK(answers.front().verdict == KeyVerdict::granted);
}

TEST_CASE("a new home rebuilds the ledger from the origins' syncs: held slots count whatever the limit") {
    KeyLedger ledger;
    KeyRequest held = ask("1", KeyPolicy::serial, 1, "b");
    held.held = true;
    auto answers = ledger.sync("b", {held, ask("2", KeyPolicy::serial, 1, "b")});
    CHECK(granted_ids(answers) == std::vector<std::string>{"1"});
    KeyRequest other_held = ask("3", KeyPolicy::serial, 1, "c");
    other_held.held = true;
    ledger.sync("c", {other_held});
    CHECK(ledger.holders("key:K") == 2);
    // b's next sync no longer lists job 1 (it ended, its release was lost): it goes, but job 3
    // still holds the only slot.
    CHECK(granted_ids(ledger.sync("b", {ask("2", KeyPolicy::serial, 1, "b")})).empty());
    CHECK(granted_ids(ledger.release("key:K", "3")) == std::vector<std::string>{"2"});
}

TEST_CASE("a job's locks: its own key and policy win over its task's, and a queue limit comes last") {
    Config config;
    config.tasks["report"].on_duplicate = "serial";
    config.tasks["report"].key = "task+args";
    config.queue_settings["heavy"].cluster_concurrency = 2;
    JobRecord job;
    job.task = "report";
    job.args = std::string("\x91\x01", 2);
    job.queue = "heavy";
    auto locks = zq::node::locks_for(job, config);
    REQUIRE(locks.size() == 2);
    CHECK(locks[0].name == "key:report:9101");
    CHECK(locks[0].policy == KeyPolicy::serial);
    CHECK(locks[0].limit == 1);
    CHECK(locks[1].name == "queue:heavy");
    CHECK(locks[1].limit == 2);

    job.unique_key = "mine";
    job.unique_policy = "parallel";
    job.key_concurrency = 3;
    locks = zq::node::locks_for(job, config);
    CHECK(locks[0].name == "key:mine");
    CHECK(locks[0].policy == KeyPolicy::parallel);
    CHECK(locks[0].limit == 3);

    JobRecord plain;
    plain.task = "other";
    plain.unique_key = "k";  // parallel without a limit: neither deduplicates nor throttles
    CHECK(zq::node::locks_for(plain, config).empty());
}

TEST_CASE("a home that takes over grants nothing while it holds grants, then grants in order what the limits allow") {
    KeyLedger ledger;
    ledger.hold_grants();
    // No verdict while the home may not know every holder.
    CHECK(ledger.acquire(ask("2", KeyPolicy::serial, 1, "b")).empty());
    KeyRequest held = ask("1", KeyPolicy::serial, 1, "c");
    held.held = true;
    CHECK(verdict(ledger.acquire(held)) == KeyVerdict::granted);
    // Job 1 still runs on c: releasing the hold grants nothing yet, and job 2 hears it waits.
    auto released = ledger.release_hold();
    REQUIRE(released.size() == 1);
    CHECK(released.front().id == "2");
    CHECK(released.front().verdict == KeyVerdict::waiting);
    CHECK(granted_ids(ledger.release("key:K", "1")) == std::vector<std::string>{"2"});
}

TEST_CASE("the config reads a task's key settings and a queue's cluster limit, and refuses an unknown policy") {
    zq::test::TempDir dir;
    const std::string path = dir.path() + "/node.toml";
    std::ofstream(path) << "[tasks.report]\non_duplicate = \"queue_one\"\nkey = \"task+args\"\nkey_concurrency = 2\n"
                           "[queue.heavy]\ncluster_concurrency = 3\n";
    Config config;
    REQUIRE(zq::node::load_config_file(path, config));
    CHECK(config.tasks["report"].on_duplicate == "queue_one");
    CHECK(config.tasks["report"].key == "task+args");
    CHECK(config.tasks["report"].key_concurrency == 2);
    CHECK(config.queue_settings["heavy"].cluster_concurrency == 3);

    std::ofstream(path) << "[tasks.report]\non_duplicate = \"sometimes\"\n";
    Config bad;
    auto refused = zq::node::load_config_file(path, bad);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().find("on_duplicate must be parallel, discard, serial or queue_one") != std::string::npos);
}
