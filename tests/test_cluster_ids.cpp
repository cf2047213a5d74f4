// Cluster-wide ids on real nodes: an id submitted to several nodes of a cluster runs once, and
// every submitter but the first hears that it is a duplicate and which node holds the job.
// Each run of the task appends the job's argument to one file that all the nodes share, so a
// test counts the runs by what happened, not by what the nodes say.
#include "claim_home.hpp"
#include "support/cluster.hpp"
#include "support/node_process.hpp"

#include <zq/client.hpp>
#include <zq/json.hpp>

#include <catch2/catch.hpp>

#include <signal.h>

#include <fstream>
#include <latch>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using namespace zq::test;
using zq::Client;
using zq::JobState;
using zq::Task;

namespace {

// Appends its argument to the runs file: one line per run.
std::string config_with_marker(const std::string& runs_file, const std::string& heartbeats = kFastHeartbeats) {
    return heartbeats + "[tasks.mark]\ncommand = [\"/bin/sh\", \"-c\", \"echo \\\"$1\\\" >> " + runs_file +
           "\", \"mark\"]\n";
}

std::unique_ptr<NodeProcess> start_node(const std::string& name, const std::string& config,
                                        const std::vector<std::string>& peers) {
    return start_peered_node(name, config, peers, 1, 2);
}

// How many times the job with argument `mark` ran, by the lines of the runs file.
std::size_t runs_of(const std::string& runs_file, const std::string& mark) {
    std::ifstream file(runs_file);
    std::size_t runs = 0;
    for (std::string line; std::getline(file, line);) runs += line == mark;
    return runs;
}

Task marker(const std::string& id) {
    Task task("mark");
    task.with_args(id).with_id(id);
    return task;
}

// Ids whose homes, in a cluster of `names`, include every one of them.
std::vector<std::string> ids_homed_everywhere(const std::string& prefix, const std::vector<std::string>& names) {
    std::vector<std::string> ids;
    std::set<std::string> homes;
    for (int i = 0; homes.size() < names.size() || ids.size() < 2 * names.size(); ++i) {
        std::string id = prefix + "-" + std::to_string(i);
        std::vector<std::string> peers(names.begin() + 1, names.end());
        homes.insert(zq::node::claim_home(id, names.front(), peers));
        ids.push_back(id);
    }
    return ids;
}

// An id whose home, among `names`, is `home`.
std::string id_homed_at(const std::string& prefix, const std::string& home, const std::vector<std::string>& names) {
    std::vector<std::string> peers(names.begin() + 1, names.end());
    for (int i = 0;; ++i) {
        std::string id = prefix + "-" + std::to_string(i);
        if (zq::node::claim_home(id, names.front(), peers) == home) return id;
    }
}

struct Cluster {
    TempDir shared;
    std::string runs_file = shared.path() + "/runs";
    std::vector<std::string> names{"a", "b", "c"};
    std::unique_ptr<NodeProcess> a, b, c;

    explicit Cluster(const std::string& heartbeats = kFastHeartbeats) {
        std::string config = config_with_marker(runs_file, heartbeats);
        a = start_node("a", config, {});
        b = start_node("b", config, {a->endpoint()});
        c = start_node("c", config, {a->endpoint(), b->endpoint()});
        REQUIRE(wait_until([&] { return everyone_sees_everyone(); }));
    }
    std::vector<NodeProcess*> nodes() { return {a.get(), b.get(), c.get()}; }
    NodeProcess& named(const std::string& name) { return name == "a" ? *a : name == "b" ? *b : *c; }
    bool everyone_sees_everyone() {
        for (NodeProcess* node : nodes()) {
            std::string self = node->status()["name"];
            for (const auto& name : names) {
                if (name != self && !sees_alive(*node, name)) return false;
            }
        }
        return true;
    }
    // No node still holds a job waiting for its claim.
    bool nothing_awaits_a_claim() {
        for (NodeProcess* node : nodes()) {
            if (node->status()["jobs"]["accepted"] != 0) return false;
        }
        return true;
    }
};

}  // namespace

TEST_CASE("the same id sent to two nodes runs once, and the second answer names the node that holds it") {
    Cluster cluster;
    // Ids homed at a, at b and at c: the home is the first submitter, the second, or neither.
    for (const auto& id : ids_homed_everywhere("twice", cluster.names)) {
        INFO("id " << id << ", home " << zq::node::claim_home(id, "a", {"b", "c"}));
        Client at_a(cluster.a->endpoint());
        Client at_b(cluster.b->endpoint());
        auto first = at_a.submit(marker(id));
        REQUIRE(first);
        CHECK_FALSE(first->duplicate);
        CHECK(first->node == "a");
        auto second = at_b.submit(marker(id));
        REQUIRE(second);
        CHECK(second->duplicate);
        CHECK(second->node == "a");

        auto job = at_a.wait(id, kDeadline);
        REQUIRE(job);
        CHECK(job->state == JobState::succeeded);
        CHECK(runs_of(cluster.runs_file, id) == 1);
        // The copy b journaled while it asked is gone: b has no such job.
        auto at_b_status = at_b.status(id);
        REQUIRE_FALSE(at_b_status);
        CHECK(at_b_status.error_code() == zq::ErrorCode::not_found);
        // Asked again, once the job has ended: still the one job, still at a.
        auto third = Client(cluster.c->endpoint()).submit(marker(id));
        REQUIRE(third);
        CHECK(third->duplicate);
        CHECK(third->node == "a");
    }
    CHECK(cluster.nothing_awaits_a_claim());
}

TEST_CASE("the same id sent to three nodes at once runs once") {
    Cluster cluster;
    for (const auto& id : ids_homed_everywhere("at-once", cluster.names)) {
        INFO("id " << id << ", home " << zq::node::claim_home(id, "a", {"b", "c"}));
        std::vector<zq::Result<zq::Submitted>> answers(3, zq::Error{"not sent"});
        std::latch start(3);
        std::vector<std::thread> submitters;
        for (std::size_t i = 0; i < 3; ++i) {
            submitters.emplace_back([&, i] {
                Client client(cluster.nodes()[i]->endpoint());
                start.arrive_and_wait();
                answers[i] = client.submit(marker(id));
            });
        }
        for (auto& thread : submitters) thread.join();

        std::string holder;
        std::size_t originals = 0;
        for (std::size_t i = 0; i < 3; ++i) {
            REQUIRE(answers[i]);
            if (!answers[i]->duplicate) {
                ++originals;
                holder = answers[i]->node;
            }
        }
        REQUIRE(originals == 1);
        for (const auto& answer : answers) CHECK(answer->node == holder);
        auto job = Client(cluster.named(holder).endpoint()).wait(id, kDeadline);
        REQUIRE(job);
        CHECK(job->state == JobState::succeeded);
        CHECK(runs_of(cluster.runs_file, id) == 1);
    }
    CHECK(cluster.nothing_awaits_a_claim());
}

TEST_CASE("a claim whose home goes silent is sent to the next home, and the job runs once") {
    Cluster cluster;
    std::string id = id_homed_at("home-lost", "c", cluster.names);
    cluster.c->signal(SIGSTOP);
    // The answer waits until a counts c as lost (3 heartbeats of 0.2 s) and asks again.
    Client at_a(cluster.a->endpoint());
    auto first = at_a.submit(marker(id));
    REQUIRE(first);
    CHECK_FALSE(first->duplicate);
    CHECK(first->node == "a");
    auto job = at_a.wait(id, kDeadline);
    REQUIRE(job);
    CHECK(job->state == JobState::succeeded);
    // b, which also counts c as lost by now, asks the same new home.
    REQUIRE(wait_until([&] { return !sees_alive(*cluster.b, "c"); }));
    auto second = Client(cluster.b->endpoint()).submit(marker(id));
    REQUIRE(second);
    CHECK(second->duplicate);
    CHECK(second->node == "a");
    CHECK(runs_of(cluster.runs_file, id) == 1);
    cluster.c->signal(SIGCONT);
}

TEST_CASE("a job still waiting for its claim when its node is killed is claimed again after the restart") {
    // Liveness 100 x 0.2 s: the frozen home is unreachable, not lost, so the claim stays out.
    TempDir shared;
    std::string runs_file = shared.path() + "/runs";
    std::string config = config_with_marker(runs_file, "heartbeat_interval = 0.2\nheartbeat_liveness = 100\n");
    auto b = start_node("b", config, {});
    auto a = start_node("a", config, {b->endpoint()});
    REQUIRE(wait_until([&] { return sees_alive(*a, "b") && sees_alive(*b, "a"); }));
    std::string id = id_homed_at("restarted", "b", {"a", "b"});

    b->signal(SIGSTOP);
    Client at_a(a->endpoint());
    auto unanswered = at_a.submit(marker(id), std::chrono::milliseconds(500));
    REQUIRE_FALSE(unanswered);
    auto waiting = at_a.status(id);
    REQUIRE(waiting);
    CHECK(waiting->state == JobState::accepted);

    // The origin dies with the claim out; the home wakes up and grants it to nobody listening.
    a->kill_hard();
    b->signal(SIGCONT);
    a->start();
    Client again(a->endpoint());
    auto job = again.wait(id, kDeadline);
    REQUIRE(job);
    CHECK(job->state == JobState::succeeded);
    CHECK(runs_of(runs_file, id) == 1);
    auto at_b = Client(b->endpoint()).submit(marker(id));
    REQUIRE(at_b);
    CHECK(at_b->duplicate);
    CHECK(at_b->node == "a");
}

TEST_CASE("a home killed and restarted hears what was decided in its place, and does not run the id again") {
    Cluster cluster;
    std::string id = id_homed_at("away", "c", cluster.names);
    cluster.c->kill_hard();
    REQUIRE(wait_until([&] { return !sees_alive(*cluster.a, "c") && !sees_alive(*cluster.b, "c"); }));

    // Decided by the next home in c's place, and run once.
    Client at_a(cluster.a->endpoint());
    auto first = at_a.submit(marker(id));
    REQUIRE(first);
    CHECK_FALSE(first->duplicate);
    auto job = at_a.wait(id, kDeadline);
    REQUIRE(job);
    CHECK(job->state == JobState::succeeded);

    // c is the id's home again: it was told, and answers for the id.
    cluster.c->start();
    REQUIRE(wait_until([&] { return cluster.everyone_sees_everyone(); }));
    auto again = Client(cluster.c->endpoint()).submit(marker(id));
    INFO("c's log:\n" << cluster.c->log() << "\na's log:\n" << cluster.a->log() << "\nb's log:\n" << cluster.b->log());
    REQUIRE(again);
    CHECK(again->duplicate);
    CHECK(again->node == "a");
    CHECK(runs_of(cluster.runs_file, id) == 1);
    CHECK_THAT(cluster.a->log() + cluster.b->log(), Catch::Contains("handed back to it"));
}

TEST_CASE("a schedule's tick, submitted by every node under one id and one ETA, runs once at its time") {
    Cluster cluster;
    std::map<std::string, std::chrono::system_clock::time_point> etas;
    std::map<std::string, std::string> holders;
    for (const auto& id : ids_homed_everywhere("tick", cluster.names)) {
        INFO("id " << id << ", home " << zq::node::claim_home(id, "a", {"b", "c"}));
        const auto eta = etas[id] = std::chrono::system_clock::now() + std::chrono::milliseconds(1500);
        std::vector<zq::Result<zq::Submitted>> answers(3, zq::Error{"not sent"});
        std::latch start(3);
        std::vector<std::thread> schedulers;
        for (std::size_t i = 0; i < 3; ++i) {
            schedulers.emplace_back([&, i] {
                Client client(cluster.nodes()[i]->endpoint());
                start.arrive_and_wait();
                answers[i] = client.submit(marker(id).at(eta));
            });
        }
        for (auto& thread : schedulers) thread.join();
        std::string holder;
        for (const auto& answer : answers) {
            REQUIRE(answer);
            if (!answer->duplicate) {
                CHECK(holder.empty());
                holder = answer->node;
                CHECK(answer->state == JobState::scheduled);
            }
        }
        REQUIRE_FALSE(holder.empty());
        for (const auto& answer : answers) CHECK(answer->node == holder);
        holders[id] = holder;
    }
    for (const auto& id : ids_homed_everywhere("tick", cluster.names)) {
        INFO("id " << id << ", held by " << holders[id]);
        // The holder places it when it is due, here or on a peer with a free worker.
        auto job = Client(cluster.named(holders[id]).endpoint()).wait(id, kDeadline);
        REQUIRE(job);
        CHECK(job->state == JobState::succeeded);
        CHECK(std::chrono::system_clock::now() >= etas[id]);
        CHECK(runs_of(cluster.runs_file, id) == 1);
    }
    CHECK(cluster.nothing_awaits_a_claim());
}

TEST_CASE("a job forwarded by the node that holds its id runs on a node whose own copy still awaits its claim") {
    // Every node that has a schedule submits its tick, and the node whose claim wins may place
    // the job on another that is still waiting for its own claim's answer. Here the id's home
    // is c, frozen; a counts c lost after 3 heartbeats and settles the id itself (its home once
    // c is gone), while b waits 50 heartbeats; a's only worker is busy, so a forwards the job
    // to b, which still holds its own copy.
    TempDir shared;
    std::string runs_file = shared.path() + "/runs";
    NodeOptions a_options{.name = "a",
                          .config = config_with_marker(runs_file, "heartbeat_interval = 0.2\nheartbeat_liveness = 3\n"),
                          .min_workers = 1,
                          .max_workers = 1};
    auto a = std::make_unique<NodeProcess>(a_options);
    auto b = start_node("b", config_with_marker(runs_file, "heartbeat_interval = 0.2\nheartbeat_liveness = 50\n"),
                        {a->endpoint()});
    auto c = start_node("c", config_with_marker(runs_file), {a->endpoint(), b->endpoint()});
    REQUIRE(wait_until([&] {
        return sees_alive(*a, "b") && sees_alive(*a, "c") && sees_alive(*b, "c") && sees_capacity(*a, "b");
    }));
    std::string id;
    for (int i = 0; id.empty(); ++i) {
        std::string candidate = "forwarded-" + std::to_string(i);
        if (zq::node::claim_home(candidate, "a", {"b", "c"}) == "c" &&
            zq::node::claim_home(candidate, "a", {"b"}) == "a") {
            id = candidate;
        }
    }
    Client at_a(a->endpoint());
    occupy_worker(*a, at_a);

    c->signal(SIGSTOP);
    // Both copies wait for the frozen home: b's first, so that it is there when a, which
    // counts c lost after 0.6 s, forwards its job. Neither submitter waits for its answer.
    Client at_b(b->endpoint());
    REQUIRE_FALSE(at_b.submit(marker(id), std::chrono::milliseconds(200)));
    (void)at_a.submit(marker(id), std::chrono::milliseconds(200));

    bool ran = wait_until([&] { return runs_of(runs_file, id) == 1; }, std::chrono::seconds(5));
    INFO("a's log:\n" << a->log() << "\nb's log:\n" << b->log());
    REQUIRE(ran);
    auto job = at_a.wait(id, kDeadline);
    REQUIRE(job);
    CHECK(job->state == JobState::succeeded);
    CHECK(job->node == "b");
    c->signal(SIGCONT);
    CHECK(runs_of(runs_file, id) == 1);
}
