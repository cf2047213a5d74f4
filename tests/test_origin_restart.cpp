// An origin that stops and starts again while its jobs are on peers: killed or stopped
// between FORWARD and TAKEN, a job still runs once, on one node, and ends at the origin; a
// peer whose link back is still in zmq's reconnect backoff is not taken for lost.
//
// Node a is the origin of every job here. It serves none of the queue `work`, which b and c
// serve, so it places each job on one of them. With the test hook test_hold_after_forward,
// a ignores TAKEN and the owners' reports: it stays between FORWARD and TAKEN for as long as
// the test likes, which is where the stop is made. The job is zq.add with `log`, which
// appends its id to a file at each run, so the test counts the runs.
#include "journal.hpp"
#include "support/cluster.hpp"
#include "support/node_process.hpp"

#include <zq/client.hpp>
#include <zq/codec.hpp>
#include <zq/json.hpp>

#include <catch2/catch.hpp>

#include <signal.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

using namespace zq::test;
using zq::Client;
using zq::JobState;
using zq::Task;

namespace {

const std::string kHold = "test_hold_after_forward = true\n";

// `bind`: a tcp endpoint besides the ipc one (peers then link over tcp).
std::unique_ptr<NodeProcess> start_node(const std::string& name, const std::string& queues, const std::string& config,
                                        const std::vector<std::string>& peers, const std::string& bind = {}) {
    NodeOptions options{.name = name, .config = config, .min_workers = 1, .max_workers = 2};
    options.extra_args = {"--queues", queues};
    if (!bind.empty()) options.extra_args.insert(options.extra_args.end(), {"--bind", bind});
    for (const auto& peer : peers) {
        options.extra_args.push_back("--peer");
        options.extra_args.push_back(peer);
    }
    return std::make_unique<NodeProcess>(options);
}

// The lines of `path` equal to `id`: the runs of that job.
int runs_of(const std::string& path, const std::string& id) {
    std::ifstream file(path);
    int runs = 0;
    for (std::string line; std::getline(file, line);) runs += line == id ? 1 : 0;
    return runs;
}

Task logged_add(const std::string& log, double sleep_seconds) {
    Task task("zq.add");
    task.queue = "work";
    task.args = zq::pack(std::vector<int>{2, 3});
    task.kwargs = zq::pack_json({{"log", log}, {"sleep", sleep_seconds}});
    return task;
}

// Whether `node` has a record of job `id`.
bool holds(NodeProcess& node, const std::string& id) { return static_cast<bool>(Client(node.endpoint()).status(id)); }

// Stops the origin with `signal` while its job is between FORWARD and TAKEN, starts it again
// without the hook, and checks that the job ran once, on one node, and ended at the origin.
void stop_between_forward_and_taken(int signal) {
    auto a = start_node("a", "qa", std::string(kFastHeartbeats) + kHold, {});
    auto b = start_node("b", "work", kFastHeartbeats, {a->endpoint()});
    auto c = start_node("c", "work", kFastHeartbeats, {a->endpoint()});
    REQUIRE(wait_until([&] { return sees_capacity(*a, "b") && sees_capacity(*a, "c"); }));
    TempDir dir;
    const std::string log = dir.path() + "/runs";

    std::string id;
    {
        Client client(a->endpoint());
        auto submitted = client.submit(logged_add(log, 0.3));
        REQUIRE(submitted);
        id = submitted->id;
    }
    // It runs on its owner; the origin holds it as forwarded, not taken.
    REQUIRE(wait_until([&] { return runs_of(log, id) == 1; }));
    const std::string owner_name = holds(*b, id) ? "b" : "c";
    auto held = Client(a->endpoint()).status(id);
    REQUIRE(held);
    CHECK(held->state == JobState::queued);
    CHECK(held->node == owner_name);

    a->signal(signal);
    const int exit_status = a->wait_exit();
    CHECK(exit_status == (signal == SIGKILL ? 128 + SIGKILL : 0));
    a->write_config(kFastHeartbeats);
    a->start();

    // Its journal named the owner before the FORWARD went out: that node is asked, no other.
    Client client(a->endpoint());
    auto restarted = client.status(id);
    REQUIRE(restarted);
    CHECK(restarted->node == owner_name);
    auto job = client.wait(id, kDeadline);
    REQUIRE(job);
    CHECK(job->state == JobState::succeeded);
    CHECK(job->result_as<int>() == 5);
    CHECK((job->node == "b" || job->node == "c"));
    // Once, on one node: the other never had it.
    CHECK(runs_of(log, id) == 1);
    NodeProcess& owner = job->node == "b" ? *b : *c;
    NodeProcess& other = job->node == "b" ? *c : *b;
    CHECK(holds(owner, id));
    CHECK_FALSE(holds(other, id));
}

}  // namespace

TEST_CASE("an origin killed between FORWARD and TAKEN: the job runs once, on one node, and ends at the origin") {
    stop_between_forward_and_taken(SIGKILL);
}

TEST_CASE("an origin stopped with SIGTERM between FORWARD and TAKEN: the job runs once and ends at the origin") {
    stop_between_forward_and_taken(SIGTERM);
}

// Submits a logged zq.add at `origin` and waits until `owner` has run it to success; its id.
std::string submit_until_succeeded_at_owner(NodeProcess& origin, NodeProcess& owner, const std::string& log) {
    std::string id;
    {
        Client client(origin.endpoint());
        auto submitted = client.submit(logged_add(log, 0));
        REQUIRE(submitted);
        id = submitted->id;
    }
    Client at_owner(owner.endpoint());
    REQUIRE(wait_until([&] {
        auto job = at_owner.status(id);
        return job && job->state == JobState::succeeded;
    }));
    return id;
}

TEST_CASE("an owner asked again for a job it finished reports the outcome again, even one acknowledged") {
    auto a = start_node("a", "qa", std::string(kFastHeartbeats) + kHold, {});
    auto b = start_node("b", "work", kFastHeartbeats, {a->endpoint()});
    REQUIRE(wait_until([&] { return sees_capacity(*a, "b"); }));
    TempDir dir;
    const std::string log = dir.path() + "/runs";
    std::string id = submit_until_succeeded_at_owner(*a, *b, log);
    // b forgets the outcome as if a had acknowledged it (a restart of b with the report
    // acknowledged in its journal: a is killed first, so nothing acknowledges it for real).
    a->kill_hard();
    b->kill_hard();
    {
        auto journal = zq::node::Journal::open(b->data_dir(), zq::node::JournalSync::normal);
        REQUIRE(journal);
        REQUIRE((*journal)->acknowledge_report(id));
        REQUIRE((*journal)->commit());
    }
    b->start();
    a->write_config(kFastHeartbeats);
    a->start();
    Client client(a->endpoint());
    auto job = client.wait(id, kDeadline);
    REQUIRE(job);
    CHECK(job->state == JobState::succeeded);
    CHECK(job->node == "b");
    CHECK(runs_of(log, id) == 1);
    CHECK_THAT(b->log(), Catch::Contains("job " + id + " forwarded again by node a"));
}

TEST_CASE("a report of a job the restarted origin holds as its own, unstarted, is taken: the job follows that run") {
    auto a = start_node("a", "qa", std::string(kFastHeartbeats) + kHold, {});
    NodeOptions options{.name = "b", .config = kFastHeartbeats, .min_workers = 1, .max_workers = 1};
    options.extra_args = {"--queues", "work", "--peer", a->endpoint()};
    auto b = std::make_unique<NodeProcess>(options);
    REQUIRE(wait_until([&] { return sees_capacity(*a, "b"); }));
    TempDir dir;
    const std::string log = dir.path() + "/runs";
    std::string id = submit_until_succeeded_at_owner(*a, *b, log);
    Client at_owner(b->endpoint());
    // b's only worker is busy from now on: a cannot place the job anywhere.
    REQUIRE(at_owner.submit(Task("zq.sleep").with_args(30).on_queue("work")));
    REQUIRE(wait_until([&] { return !sees_capacity(*a, "b"); }));
    // a's journal as an older zq left it: the job queued, no owner named.
    a->kill_hard();
    {
        auto journal = zq::node::Journal::open(a->data_dir(), zq::node::JournalSync::normal);
        REQUIRE(journal);
        auto stored = (*journal)->find(id);
        REQUIRE(stored);
        REQUIRE(*stored);
        zq::node::JobRecord record = **stored;
        record.node.clear();
        REQUIRE((*journal)->update_state(record));
        REQUIRE((*journal)->commit());
    }
    a->write_config(kFastHeartbeats);
    a->start();
    Client client(a->endpoint());
    auto job = client.wait(id, kDeadline);
    REQUIRE(job);
    CHECK(job->state == JobState::succeeded);
    CHECK(job->node == "b");
    CHECK(runs_of(log, id) == 1);
    CHECK_THAT(a->log(), Catch::Contains("job " + id + " (zq.add) is run by node b, not here: it follows that run"));
}

// Kills the origin `a` while its job runs on `b`, keeps it down long enough for b's link back
// to be deep in zmq's reconnect backoff, starts it again, and returns the job as a reports it.
// With `heard_at_once`, a must see b alive within 1.2 s of its start, long before b's link
// back would have tried again by itself.
zq::JobInfo restart_origin_during_backoff(NodeProcess& a, NodeProcess& b, const std::string& log, bool heard_at_once) {
    REQUIRE(wait_until([&] { return sees_capacity(a, "b"); }));
    std::string id;
    {
        Client client(a.endpoint());
        auto submitted = client.submit(logged_add(log, 6));
        REQUIRE(submitted);
        id = submitted->id;
        REQUIRE(wait_until([&] {
            auto job = client.status(id);
            return job && job->state == JobState::running;
        }));
    }
    a.kill_hard();
    // The downtime is what this test is about, not a wait for something: b's link to a fails
    // its attempts at about 0.1, 0.3, 0.7, 1.5 and 3.1 s (each up to 0.1 s later, zmq's
    // jitter), and the next comes at 6.3 s, long after the 0.8 s (liveness 3 x 0.2 s, plus
    // one interval) that a restarted origin used to give b to be heard from.
    std::this_thread::sleep_for(std::chrono::milliseconds(4000));
    a.start();
    if (heard_at_once) CHECK(wait_until([&] { return sees_alive(a, "b"); }, std::chrono::milliseconds(1200)));
    Client client(a.endpoint());
    auto job = client.wait(id, kDeadline);
    REQUIRE(job);
    CHECK(runs_of(log, id) == 1);
    CHECK(b.log().find("late STATE") == std::string::npos);
    return *job;
}

// Peers link over tcp here, where a refused connection backs off (a missing ipc socket file
// is retried without it).
TEST_CASE("a restarted origin that links to its job's owner has it reconnect at once, and the job succeeds there") {
    const std::string a_endpoint = loopback_endpoint(free_tcp_port());
    const std::string b_endpoint = loopback_endpoint(free_tcp_port());
    auto a = start_node("a", "qa", kFastHeartbeats, {b_endpoint}, a_endpoint);
    auto b = start_node("b", "work", kFastHeartbeats, {a_endpoint}, b_endpoint);
    TempDir dir;
    auto job = restart_origin_during_backoff(*a, *b, dir.path() + "/runs", true);
    CHECK(job.state == JobState::succeeded);
    CHECK(job.error.empty());
    CHECK(job.node == "b");
    // a's HELLO reached b at once; b opened its link back without waiting for the backoff.
    CHECK_THAT(b->log(), Catch::Contains("peer a (" + a->status()["advertise"].get<std::string>() + ") is back while the link to it was down"));
}

TEST_CASE("a restarted origin that does not link to its job's owner waits out the owner's backoff, and the job succeeds") {
    const std::string a_endpoint = loopback_endpoint(free_tcp_port());
    auto a = start_node("a", "qa", kFastHeartbeats, {}, a_endpoint);
    auto b = start_node("b", "work", kFastHeartbeats, {a_endpoint}, loopback_endpoint(free_tcp_port()));
    TempDir dir;
    auto job = restart_origin_during_backoff(*a, *b, dir.path() + "/runs", false);
    CHECK(job.state == JobState::succeeded);
    CHECK(job.error.empty());
    CHECK(job.node == "b");
}
