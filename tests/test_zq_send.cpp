// zq-send cancel ID --data DIR: canceling through a node's data directory, whether the node
// runs (the cancel goes to it) or is down (the cancel is written to its journal and honoured
// when it starts). Real zq-node and zq-send processes.
#include "support/node_process.hpp"

#include <zq/client.hpp>

#include <catch2/catch.hpp>

#include <filesystem>
#include <string>
#include <vector>

using namespace zq::test;
using zq::Client;
using zq::JobState;
using zq::Task;

namespace {

CommandResult zq_send(std::vector<std::string> arguments) {
    arguments.insert(arguments.begin(), ZQ_BIN_DIR "/zq-send");
    return run_command(arguments);
}

}  // namespace

TEST_CASE("zq-send cancel --data cancels a queued job while its node is down, and the restarted node does not run it") {
    TempDir scratch;
    const std::string marker = scratch.path() + "/ran";
    NodeProcess node({.config = "[tasks.touch]\ncommand = [\"/usr/bin/touch\"]\n", .min_workers = 1, .max_workers = 1});
    std::string blocker_id, canceled_id, kept_id;
    {
        Client client(node.endpoint());
        blocker_id = occupy_worker(node, client).id;
        // Queued behind the blocker, in this order: the one to cancel would run first.
        auto doomed = client.submit(Task("touch").with_args(marker));
        auto kept = client.submit(Task("zq.echo").with_args(std::string("still runs")));
        REQUIRE(doomed);
        REQUIRE(kept);
        canceled_id = doomed->id;
        kept_id = kept->id;
    }
    node.kill_hard();

    auto canceled = zq_send({"cancel", canceled_id, "--data", node.data_dir(), "--json"});
    INFO(canceled.err);
    CHECK(canceled.exit_code == 0);
    auto printed = nlohmann::json::parse(canceled.out);
    CHECK(printed["id"] == canceled_id);
    CHECK(printed["state"] == "queued");
    CHECK(printed["cancel_requested"] == true);
    auto human = zq_send({"cancel", canceled_id, "--data", node.data_dir()});
    CHECK(human.exit_code == 0);
    CHECK_THAT(human.err, Catch::Contains("recorded in its journal"));

    node.start();
    Client client(node.endpoint());
    auto kept = client.wait(kept_id, kDeadline);
    REQUIRE(kept);
    CHECK(kept->state == JobState::succeeded);
    auto job = client.status(canceled_id);
    REQUIRE(job);
    CHECK(job->state == JobState::canceled);
    CHECK(job->error == "canceled while the node was down");
    // The queue runs in order, so the canceled job would have run before the kept one.
    CHECK_FALSE(std::filesystem::exists(marker));
    auto blocker = client.status(blocker_id);
    REQUIRE(blocker);
    CHECK(blocker->state == JobState::failed);
    CHECK(blocker->error == "node restarted while the job was running");
}

TEST_CASE("zq-send cancel --data asks the node when one runs on the directory") {
    NodeProcess node({.min_workers = 1, .max_workers = 1});
    Client client(node.endpoint());
    occupy_worker(node, client);
    auto queued = client.submit(Task("zq.noop"));
    REQUIRE(queued);

    auto canceled = zq_send({"cancel", queued->id, "--data", node.data_dir(), "--json"});
    INFO(canceled.err);
    CHECK(canceled.exit_code == 0);
    CHECK(nlohmann::json::parse(canceled.out)["state"] == "canceled");
    auto job = client.status(queued->id);
    REQUIRE(job);
    CHECK(job->state == JobState::canceled);
    CHECK(job->error == "canceled before it ran");
    // The node still runs on the directory: zq-send took its lock only to test it.
    CHECK(node.status()["pending"] == 1);
}

TEST_CASE("zq-send cancel --data refuses unknown and finished jobs while the node is down") {
    NodeProcess node({.min_workers = 1, .max_workers = 1});
    std::string finished_id;
    {
        Client client(node.endpoint());
        auto submitted = client.submit(Task("zq.noop"));
        REQUIRE(submitted);
        auto job = client.wait(submitted->id, kDeadline);
        REQUIRE(job);
        REQUIRE(job->state == JobState::succeeded);
        finished_id = job->id;
    }
    node.kill_hard();

    const std::string unknown = zq::new_job_id();
    auto missing = zq_send({"cancel", unknown, "--data", node.data_dir()});
    CHECK(missing.exit_code == 1);
    CHECK_THAT(missing.err, Catch::Contains("no job " + unknown));

    auto finished = zq_send({"cancel", finished_id, "--data", node.data_dir()});
    CHECK(finished.exit_code == 1);
    CHECK_THAT(finished.err, Catch::Contains("had already succeeded: not canceled"));

    TempDir empty;
    auto no_journal = zq_send({"cancel", unknown, "--data", empty.path()});
    CHECK(no_journal.exit_code == 1);
    CHECK_THAT(no_journal.err, Catch::Contains("holds no journal"));
    CHECK_FALSE(std::filesystem::exists(empty.path() + "/journal.db"));
    CHECK_FALSE(std::filesystem::exists(empty.path() + "/node.lock"));

    auto both = zq_send({"cancel", unknown, "--data", node.data_dir(), "--node", node.endpoint()});
    CHECK(both.exit_code == 2);

    // Nothing zq-send did keeps the node from starting again on its directory.
    node.start();
    Client client(node.endpoint());
    auto job = client.status(finished_id);
    REQUIRE(job);
    CHECK(job->state == JobState::succeeded);
}
