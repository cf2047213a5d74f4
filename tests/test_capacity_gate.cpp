// The capacity gate without a node: weights add up to the capacity, an exclusive job runs
// alone and is not starved, a queue limit holds per node, and what the gate holds comes back
// when it may fit, in order, without blocking lighter jobs behind a heavy one.
#include "capacity_gate.hpp"
#include "placement.hpp"

#include <catch2/catch.hpp>

#include <deque>

using zq::node::CapacityGate;
using zq::node::Job;
using Verdict = zq::node::CapacityGate::Verdict;

namespace {

// Jobs live in a deque so that their addresses stay put while the test adds more.
Job& make(std::deque<Job>& jobs, const std::string& id, std::uint32_t weight = 1, bool exclusive = false,
          const std::string& queue = "default") {
    Job& job = jobs.emplace_back();
    job.record.id = id;
    job.record.weight = weight;
    job.record.exclusive = exclusive;
    job.record.queue = queue;
    return job;
}

// What the dispatcher does with one job: start it if the gate admits it, else hold it.
bool offer(CapacityGate& gate, Job& job) {
    Verdict verdict = gate.admit(job);
    if (verdict != Verdict::start) {
        gate.hold(job, verdict);
        return false;
    }
    gate.handed_over(job, true);
    return true;
}

std::vector<std::string> woken_ids(CapacityGate& gate) {
    std::vector<Job*> woken;
    gate.take_woken(woken);
    std::vector<std::string> ids;
    for (Job* job : woken) ids.push_back(job->record.id);
    return ids;
}

}  // namespace

TEST_CASE("weights add up to the capacity, and lighter jobs fill what a heavy one cannot use") {
    std::deque<Job> jobs;
    CapacityGate gate(4, {});
    Job& a = make(jobs, "a", 2);
    Job& b = make(jobs, "b", 2);
    Job& c = make(jobs, "c", 2);
    CHECK(offer(gate, a));
    CHECK(offer(gate, make(jobs, "one", 1)));
    CHECK(gate.free_units() == 1);
    // c does not fit; a weight-1 job behind it does.
    CHECK_FALSE(offer(gate, c));
    CHECK(gate.reason(c, Verdict::weight) == "weight 2: 1 of 4 units free");
    CHECK(offer(gate, make(jobs, "two", 1)));
    CHECK(gate.free_units() == 0);
    CHECK_FALSE(offer(gate, b));
    CHECK(gate.held() == 2);
    // Nothing left a worker: nothing comes back.
    CHECK(woken_ids(gate).empty());
    gate.left_worker(a);
    CHECK(gate.free_units() == 2);
    // Two units free: c first (it was held first), b stays.
    CHECK(woken_ids(gate) == std::vector<std::string>{"c"});
    CHECK(offer(gate, c));
    CHECK(gate.held() == 1);
    CHECK(gate.units_in_use() == 4);
}

TEST_CASE("a job heavier than the node needs the whole node") {
    std::deque<Job> jobs;
    CapacityGate gate(4, {});
    Job& huge = make(jobs, "huge", 9);
    CHECK(gate.units_of(huge.record) == 4);
    Job& one = make(jobs, "one");
    CHECK(offer(gate, one));
    CHECK_FALSE(offer(gate, huge));
    gate.left_worker(one);
    CHECK(woken_ids(gate) == std::vector<std::string>{"huge"});
    CHECK(offer(gate, huge));
}

TEST_CASE("an exclusive job runs alone, and once first in line nothing new passes it") {
    std::deque<Job> jobs;
    CapacityGate gate(8, {});
    Job& a = make(jobs, "a");
    Job& b = make(jobs, "b");
    Job& solo = make(jobs, "solo", 1, true);
    CHECK(offer(gate, a));
    CHECK(offer(gate, b));
    CHECK_FALSE(offer(gate, solo));
    CHECK(gate.reason(solo, Verdict::exclusive) == "exclusive: waits for 2 running jobs to end");
    CHECK(gate.offered_units() == 0);
    // Units are free, but nothing new starts while the exclusive job waits.
    Job& late = make(jobs, "late");
    CHECK(gate.admit(late) == Verdict::behind_exclusive);
    gate.hold(late, Verdict::behind_exclusive);
    gate.left_worker(a);
    CHECK(woken_ids(gate).empty());  // b still runs
    gate.left_worker(b);
    CHECK(woken_ids(gate) == std::vector<std::string>{"solo"});
    // Back in the ready queue, it is still first in line: a job ahead of it there waits too.
    Job& ahead = make(jobs, "ahead");
    CHECK(gate.admit(ahead) == Verdict::behind_exclusive);
    gate.hold(ahead, Verdict::behind_exclusive);
    CHECK(offer(gate, solo));
    CHECK(gate.admit(make(jobs, "during")) == Verdict::behind_exclusive);
    CHECK(woken_ids(gate).empty());
    gate.left_worker(solo);
    CHECK(woken_ids(gate) == std::vector<std::string>{"late", "ahead"});
    CHECK(offer(gate, late));
    CHECK(offer(gate, ahead));
}

TEST_CASE("an exclusive job waits for prefetched jobs too, which take units only when they start") {
    std::deque<Job> jobs;
    CapacityGate gate(2, {});
    Job& running = make(jobs, "running");
    Job& behind = make(jobs, "behind");
    CHECK(offer(gate, running));
    REQUIRE(gate.prefetchable(behind.record));
    gate.handed_over(behind, false);
    CHECK(gate.units_in_use() == 1);
    CHECK(gate.on_workers() == 2);
    Job& solo = make(jobs, "solo", 1, true);
    CHECK_FALSE(gate.prefetchable(solo.record));
    CHECK_FALSE(offer(gate, solo));
    gate.left_worker(running);
    gate.started(behind);  // the worker takes the next task it holds
    CHECK(gate.units_in_use() == 1);
    CHECK(woken_ids(gate).empty());
    gate.left_worker(behind);
    CHECK(woken_ids(gate) == std::vector<std::string>{"solo"});
}

TEST_CASE("a queue limit holds per node while other queues run, and frees one place per end") {
    std::deque<Job> jobs;
    CapacityGate gate(8, {{"heavy", 2}});
    std::vector<Job*> heavy;
    for (int i = 0; i < 5; ++i) heavy.push_back(&make(jobs, "h" + std::to_string(i), 1, false, "heavy"));
    int started = 0;
    for (Job* job : heavy) started += offer(gate, *job) ? 1 : 0;
    CHECK(started == 2);
    CHECK(gate.running_in_queue("heavy") == 2);
    CHECK(gate.reason(*heavy[2], Verdict::queue_limit) == "queue heavy: 2 of 2 running on this node");
    CHECK_FALSE(gate.prefetchable(heavy[2]->record));
    CHECK(offer(gate, make(jobs, "light")));
    gate.left_worker(*heavy[0]);
    CHECK(woken_ids(gate) == std::vector<std::string>{"h2"});
    CHECK(offer(gate, *heavy[2]));
    CHECK(gate.running_in_queue("heavy") == 2);
    // A held job canceled leaves the gate.
    CHECK(gate.remove(*heavy[3]));
    CHECK_FALSE(gate.holds(*heavy[3]));
    CHECK(gate.holds(*heavy[4]));
    auto reasons = gate.held_reasons();
    REQUIRE(reasons.size() == 1);
    CHECK(reasons[0].first == "h4");
    CHECK(reasons[0].second == "queue heavy: 2 of 2 running on this node");
}

TEST_CASE("a task's weight and exclusivity apply unless the job sets its own weight") {
    zq::node::Config config;
    config.tasks["report"].weight = 5;
    config.tasks["report"].exclusive = true;
    zq::Task plain("report");
    zq::node::settle_capacity_demand(plain, config);
    CHECK(plain.weight == 5);
    CHECK(plain.exclusive);
    zq::Task own("report");
    own.weight = 2;
    zq::node::settle_capacity_demand(own, config);
    CHECK(own.weight == 2);
    zq::Task other("other");
    zq::node::settle_capacity_demand(other, config);
    CHECK(other.weight == 0);
    CHECK_FALSE(other.exclusive);
}

TEST_CASE("placement sends a heavy job only to a peer with its weight free, an exclusive one to an idle peer") {
    using zq::node::PeerView;
    zq::node::JobRecord job;
    job.id = "j";
    job.weight = 5;
    zq::node::LocalView local{"a", {"default"}, false, 4};
    CHECK_FALSE(zq::node::runs_here(job, local));  // heavier than a's 4 units
    std::vector<PeerView> peers{{"b", true, "alive", 3, 0, {"default"}, true, 8},
                                {"c", true, "alive", 6, 5, {"default"}, true, 8}};
    auto placed = zq::node::place(job, local, peers);
    CHECK(placed.kind == zq::node::Placement::Kind::forward);
    CHECK(placed.peer == "c");
    job.weight = 1;
    job.exclusive = true;
    placed = zq::node::place(job, local, peers);
    CHECK(placed.kind == zq::node::Placement::Kind::queue_here);  // b and c both run something
    peers[0].capacity = 8;
    placed = zq::node::place(job, local, peers);
    CHECK(placed.kind == zq::node::Placement::Kind::forward);
    CHECK(placed.peer == "b");
}

TEST_CASE("a job heavier than every node that may run it is refused, unless a node's capacity is unknown") {
    using zq::node::PeerView;
    zq::node::JobRecord job;
    job.id = "j";
    job.weight = 9;
    zq::node::LocalView local{"a", {"default"}, false, 8};
    std::vector<PeerView> peers{{"b", true, "alive", 4, 0, {"default"}, true, 4},
                                {"c", true, "alive", 4, 0, {"other"}, true, 16}};
    CHECK(zq::node::heavier_than_every_node(job, local, peers) ==
          "weight 9 exceeds the capacity of every node that may run it (a: 8 units, b: 4 units): lower the weight "
          "or raise `capacity`");
    // A node not heard from yet may be big enough; so may c for its own queue.
    peers[0].units = 0;
    CHECK(zq::node::heavier_than_every_node(job, local, peers).empty());
    job.queue = "other";
    CHECK(zq::node::heavier_than_every_node(job, local, peers).empty());
    // A target that no node knows: it waits for it.
    job.queue = "default";
    job.target = "z";
    CHECK(zq::node::heavier_than_every_node(job, local, peers).empty());
    job.target = "a";
    CHECK_FALSE(zq::node::heavier_than_every_node(job, local, peers).empty());
}
