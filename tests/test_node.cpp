// A single zq-node end to end: real node process, real workers, real signals.
#include "support/node_process.hpp"

#include <zq/client.hpp>
#include <zq/json.hpp>

#include <catch2/catch.hpp>

#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

using namespace zq::test;
using zq::Client;
using zq::JobState;
using zq::Task;

namespace {

std::uint64_t tasks_sent_to_workers(NodeProcess& node) {
    std::uint64_t sent = 0;
    auto status = node.status();
    for (const auto& worker : status["workers"]) sent += worker["sent"].get<std::uint64_t>();
    return sent;
}

}  // namespace

TEST_CASE("a submitted task succeeds and its result comes back typed") {
    NodeProcess node;
    Client client(node.endpoint());
    auto submitted = client.submit(Task("zq.echo").with_args(1, std::string("two"), 3.5));
    REQUIRE(submitted);
    CHECK(submitted->id.size() == 36);
    CHECK_FALSE(submitted->duplicate);

    auto job = client.wait(submitted->id, kDeadline);
    REQUIRE(job);
    CHECK(job->state == JobState::succeeded);
    CHECK(job->node == "test");
    auto [one, two, three] = job->result_as<std::tuple<int, std::string, double>>();
    CHECK(one == 1);
    CHECK(two == "two");
    CHECK(three == 3.5);

    auto status = client.status(submitted->id);
    REQUIRE(status);
    CHECK(status->state == JobState::succeeded);
}

TEST_CASE("a failing task ends failed with its message") {
    NodeProcess node;
    Client client(node.endpoint());
    auto submitted = client.submit(Task("zq.fail").with_args(std::string("disk on fire")));
    REQUIRE(submitted);
    auto job = client.wait(submitted->id, kDeadline);
    REQUIRE(job);
    CHECK(job->state == JobState::failed);
    CHECK(job->error == "disk on fire");
}

TEST_CASE("an unknown task fails with its name and the worker lives on") {
    NodeProcess node({.min_workers = 1, .max_workers = 1});
    auto pids_before = node.worker_pids();
    Client client(node.endpoint());
    auto submitted = client.submit(Task("no.such.task"));
    REQUIRE(submitted);
    auto job = client.wait(submitted->id, kDeadline);
    REQUIRE(job);
    CHECK(job->state == JobState::failed);
    CHECK(job->error == "unknown task no.such.task");

    auto next = client.submit(Task("zq.noop"));
    REQUIRE(next);
    auto done = client.wait(next->id, kDeadline);
    REQUIRE(done);
    CHECK(done->state == JobState::succeeded);
    CHECK(node.worker_pids() == pids_before);
}

TEST_CASE("exec tasks run argv without a shell, capture output and fail on a non-zero exit") {
    TempDir scratch;
    std::string marker = scratch.path() + "/injected";
    NodeProcess node({.config = "[tasks.say]\ncommand = [\"/bin/echo\", \"said:\"]\n"
                                "[tasks.list]\ncommand = [\"/bin/ls\"]\n"});
    Client client(node.endpoint());

    SECTION("success returns stdout and the exit status") {
        auto submitted = client.submit(Task("say").with_args(std::string("hello"), 42));
        REQUIRE(submitted);
        auto job = client.wait(submitted->id, kDeadline);
        REQUIRE(job);
        REQUIRE(job->state == JobState::succeeded);
        auto result = zq::packed_to_json(job->result);
        CHECK(result["stdout"] == "said: hello 42\n");
        CHECK(result["exit"] == 0);
    }
    SECTION("a non-zero exit fails the job with the status and stderr") {
        auto submitted = client.submit(Task("list").with_args(std::string("/nonexistent-zq-path")));
        REQUIRE(submitted);
        auto job = client.wait(submitted->id, kDeadline);
        REQUIRE(job);
        CHECK(job->state == JobState::failed);
        CHECK_THAT(job->error, Catch::Contains("exited with status 2"));
        CHECK_THAT(job->error, Catch::Contains("nonexistent-zq-path"));
    }
    SECTION("shell syntax in arguments is passed literally") {
        std::string hostile = "$(touch " + marker + "); `touch " + marker + "` | touch " + marker;
        auto submitted = client.submit(Task("say").with_args(hostile));
        REQUIRE(submitted);
        auto job = client.wait(submitted->id, kDeadline);
        REQUIRE(job);
        REQUIRE(job->state == JobState::succeeded);
        CHECK(zq::packed_to_json(job->result)["stdout"] == "said: " + hostile + "\n");
        CHECK_FALSE(std::filesystem::exists(marker));
    }
}

TEST_CASE("a worker killed mid-task ends its job in error naming signal 9 and is replaced") {
    NodeProcess node({.min_workers = 1, .max_workers = 1});
    Client client(node.endpoint());
    auto [id, victim] = occupy_worker(node, client);

    REQUIRE(::kill(victim, SIGKILL) == 0);
    auto job = client.wait(id, kDeadline);
    REQUIRE(job);
    CHECK(job->state == JobState::error);
    CHECK_THAT(job->error, Catch::Contains("signal 9"));
    CHECK_THAT(job->error, Catch::Contains(std::to_string(victim)));

    REQUIRE(wait_until([&] {
        auto pids = node.worker_pids();
        return pids.size() == 1 && pids[0] != victim;
    }));
    auto next = client.submit(Task("zq.noop"));
    REQUIRE(next);
    auto done = client.wait(next->id, kDeadline);
    REQUIRE(done);
    CHECK(done->state == JobState::succeeded);
}

TEST_CASE("a node killed with jobs queued and running resumes the queued and ends the running in error") {
    NodeProcess node({.min_workers = 1, .max_workers = 1});
    std::string running_id, queued_ids[3];
    {
        Client client(node.endpoint());
        auto running = client.submit(Task("zq.sleep").with_args(60));
        REQUIRE(running);
        running_id = running->id;
        REQUIRE(node.worker_running(running_id) > 0);
        for (auto& id : queued_ids) {
            auto queued = client.submit(Task("zq.echo").with_args(std::string("after restart")));
            REQUIRE(queued);
            id = queued->id;
        }
    }
    auto workers = node.worker_pids();
    node.kill_hard();
    // The worker dies with its parent (parent-death signal), so nothing runs twice.
    REQUIRE(wait_until([&] { return std::none_of(workers.begin(), workers.end(), process_alive); }));

    node.start();
    Client client(node.endpoint());
    for (auto& id : queued_ids) {
        auto job = client.wait(id, kDeadline);
        REQUIRE(job);
        CHECK(job->state == JobState::succeeded);
    }
    auto lost = client.wait(running_id, kDeadline);
    REQUIRE(lost);
    CHECK(lost->state == JobState::error);
    CHECK(lost->error == "node restarted while the job was running");
}

TEST_CASE("the same id submitted twice runs once") {
    NodeProcess node;
    Client client(node.endpoint());
    std::string id = zq::new_job_id();
    auto first = client.submit(Task("zq.echo").with_args(1).with_id(id));
    auto second = client.submit(Task("zq.echo").with_args(2).with_id(id));
    REQUIRE(first);
    REQUIRE(second);
    CHECK_FALSE(first->duplicate);
    CHECK(second->duplicate);
    CHECK(second->id == id);

    auto job = client.wait(id, kDeadline);
    REQUIRE(job);
    CHECK(job->state == JobState::succeeded);
    CHECK(job->result_as<std::tuple<int>>() == std::tuple<int>(1));

    // After it finished, the id is still known: a third submission runs nothing either.
    auto third = client.submit(Task("zq.echo").with_args(3).with_id(id));
    REQUIRE(third);
    CHECK(third->duplicate);
    CHECK(third->state == JobState::succeeded);
    CHECK(tasks_sent_to_workers(node) == 1);
}

TEST_CASE("a queued job can be canceled before it runs") {
    NodeProcess node({.min_workers = 1, .max_workers = 1});
    Client client(node.endpoint());
    occupy_worker(node, client);
    auto queued = client.submit(Task("zq.noop"));
    REQUIRE(queued);

    auto canceled = client.cancel(queued->id);
    REQUIRE(canceled);
    CHECK(canceled->state == JobState::canceled);
    auto job = client.status(queued->id);
    REQUIRE(job);
    CHECK(job->state == JobState::canceled);
}

TEST_CASE("status of an unknown job says so") {
    NodeProcess node;
    Client client(node.endpoint());
    auto job = client.status(zq::new_job_id());
    REQUIRE_FALSE(job);
    CHECK(job.error_code() == zq::ErrorCode::not_found);
}

TEST_CASE("a full journal rejects new submissions with the reason and keeps accepted jobs") {
    // SQLite's max_page_count stands in for a full disk.
    NodeProcess node({.config = "journal_max_pages = 40\n"});
    Client client(node.endpoint());
    std::vector<std::string> accepted;
    std::string rejection;
    std::string filler(2000, 'x');
    for (int i = 0; i < 500 && rejection.empty(); ++i) {
        auto submitted = client.submit(Task("zq.echo").with_args(filler));
        if (submitted) {
            accepted.push_back(submitted->id);
        } else {
            rejection = submitted.error();
        }
    }
    CHECK_THAT(rejection, Catch::Contains("journal unwritable") && Catch::Contains("full"));
    REQUIRE_FALSE(accepted.empty());
    require_all_succeeded(client, accepted);
    CHECK(node.status()["name"] == "test");
}

TEST_CASE("during a journal outage a job whose outcome is not on disk is shown running, then succeeded once written") {
    TempDir dir;
    const std::string gate = dir.path() + "/gate";
    // `big` waits for the test's go, then prints 60 KB: its outcome needs pages that a full
    // journal does not have. SQLite's max_page_count stands in for a full disk.
    auto config = [](int max_pages) {
        return "journal_max_pages = " + std::to_string(max_pages) + "\n" +
               R"([tasks.big]
command = ["/bin/sh", "-c", 'while [ ! -e "$1" ]; do sleep 0.02; done; head -c 60000 /dev/zero | tr "\0" x', "big"]
)";
    };
    NodeProcess node({.config = config(40), .min_workers = 2, .max_workers = 2});
    Client client(node.endpoint());
    auto big = client.submit(Task("big").with_args(gate));
    REQUIRE(big);
    REQUIRE(node.worker_running(big->id) > 0);

    // The journal fills up with accepted jobs until it refuses one.
    std::string filler(2000, 'x'), rejection;
    for (int i = 0; i < 500 && rejection.empty(); ++i) {
        auto submitted = client.submit(Task("zq.echo").with_args(filler));
        if (!submitted) rejection = submitted.error();
    }
    REQUIRE_THAT(rejection, Catch::Contains("journal unwritable"));

    // The job ends; its outcome is in memory only.
    std::ofstream(gate).put('\n');
    REQUIRE(wait_until([&] {
        auto status = node.status();
        return std::none_of(status["workers"].begin(), status["workers"].end(), [&](const nlohmann::json& worker) {
            return worker["task"].is_object() && worker["task"]["id"] == big->id;
        });
    }));
    REQUIRE_THAT(node.log(), Catch::Contains("journal write failed"));
    auto shown = client.status(big->id);
    REQUIRE(shown);
    CHECK(shown->state == JobState::running);
    CHECK(shown->result.empty());
    auto running = client.control("running");
    REQUIRE(running);
    CHECK(zq::packed_to_json(*running).dump().find(big->id) != std::string::npos);

    // Room again (the reload applies the cap): the outcome is written, and only then shown.
    node.write_config(config(0));
    REQUIRE(client.control("reload"));
    auto job = client.wait(big->id, kDeadline);
    REQUIRE(job);
    CHECK(job->state == JobState::succeeded);
    CHECK(zq::packed_to_json(job->result)["stdout"].get<std::string>().size() == 60000);
    shown = client.status(big->id);
    REQUIRE(shown);
    CHECK(shown->state == JobState::succeeded);
}

TEST_CASE("zq-node status prints one line per worker and --json the documented fields") {
    NodeProcess node({.min_workers = 2, .max_workers = 2});
    auto text = run_command({ZQ_BIN_DIR "/zq-node", "status", "--node", node.endpoint()});
    REQUIRE(text.exit_code == 0);
    CHECK_THAT(text.out, Catch::Matches("(.|\n)*worker\\[pid:[0-9]+\\] sent=0 finished=0 qsize=0 rss=[0-9.]+MB(.|\n)*"));

    auto json = run_command({ZQ_BIN_DIR "/zq-node", "status", "--json", "--node", node.endpoint()});
    REQUIRE(json.exit_code == 0);
    auto status = nlohmann::json::parse(json.out);
    CHECK(status["name"] == "test");
    CHECK(status["incarnation"].is_string());
    CHECK(status["jobs"].is_object());
    REQUIRE(status["workers"].size() == 2);
    for (const auto& worker : status["workers"]) {
        for (const char* key : {"pid", "sent", "finished", "qsize", "rss", "task"}) CHECK(worker.contains(key));
    }
    auto running = run_command({ZQ_BIN_DIR "/zq-node", "running", "--json", "--node", node.endpoint()});
    REQUIRE(running.exit_code == 0);
    CHECK(nlohmann::json::parse(running.out).is_array());
}

TEST_CASE("zq-send prints the job, waits for it and exits by outcome") {
    NodeProcess node;
    std::vector<std::string> env = {"ZQ_NODE=" + node.endpoint()};
    auto ok = run_command({ZQ_BIN_DIR "/zq-send", "--wait", "--json", "zq.echo", "7", "[1,2]", "plain"}, kDeadline, env);
    REQUIRE(ok.exit_code == 0);
    auto job = nlohmann::json::parse(ok.out);
    CHECK(job["state"] == "succeeded");
    CHECK(job["result"] == nlohmann::json::parse(R"([7, [1, 2], "plain"])"));
    for (const char* key : {"id", "state", "result", "error", "node"}) CHECK(job.contains(key));

    auto failed = run_command({ZQ_BIN_DIR "/zq-send", "--wait", "zq.fail", "nope"}, kDeadline, env);
    CHECK(failed.exit_code == 1);
    CHECK_THAT(failed.out + failed.err, Catch::Contains("nope"));

    auto timed_out = run_command({ZQ_BIN_DIR "/zq-send", "--wait", "--timeout", "0.3", "zq.sleep", "30"}, kDeadline, env);
    CHECK(timed_out.exit_code == 3);

    auto id_only = run_command({ZQ_BIN_DIR "/zq-send", "zq.noop"}, kDeadline, env);
    REQUIRE(id_only.exit_code == 0);
    std::string id = id_only.out.substr(0, 36);
    auto status = run_command({ZQ_BIN_DIR "/zq-send", "status", id, "--json"}, kDeadline, env);
    REQUIRE(status.exit_code == 0);
    CHECK(nlohmann::json::parse(status.out)["id"] == id);
}
