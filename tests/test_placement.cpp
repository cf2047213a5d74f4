// Placement decisions, without a cluster: local first, then the least-loaded live peer with a
// free worker, then the local queue, else waiting with a reason naming the nodes.
#include "placement.hpp"

#include <catch2/catch.hpp>

using zq::node::JobRecord;
using zq::node::LocalView;
using zq::node::PeerView;
using zq::node::place;
using Kind = zq::node::Placement::Kind;

namespace {

JobRecord job_on(const std::string& queue, const std::string& target = {}) {
    JobRecord job;
    job.id = "j";
    job.task = "t";
    job.queue = queue;
    job.target = target;
    return job;
}

PeerView peer(const std::string& name, std::uint64_t capacity, std::uint64_t load, std::vector<std::string> queues,
              bool alive = true) {
    return {name, alive, alive ? "alive" : "lost", capacity, load, std::move(queues)};
}

}  // namespace

TEST_CASE("a job this node serves runs here when a local worker is free, even if peers are idle") {
    LocalView local{"a", {"default"}, true};
    auto placement = place(job_on("default"), local, {peer("b", 4, 0, {"default"})});
    CHECK(placement.kind == Kind::run_here);
    CHECK(place(job_on("node:a"), local, {}).kind == Kind::run_here);
}

TEST_CASE("with no local worker free the least-loaded live peer with capacity serving the queue takes it") {
    LocalView local{"a", {"default"}, false};
    std::vector<PeerView> peers{peer("b", 1, 5, {"default"}), peer("c", 2, 1, {"default"}),
                                peer("d", 3, 0, {"default"}, false), peer("e", 0, 0, {"default"}),
                                peer("f", 9, 0, {"other"})};
    auto placement = place(job_on("default"), local, peers);
    CHECK(placement.kind == Kind::forward);
    CHECK(placement.peer == "c");

    // No peer can: it stays queued here, where a worker will free up.
    peers[0].capacity = peers[1].capacity = 0;
    CHECK(place(job_on("default"), local, peers).kind == Kind::queue_here);
}

TEST_CASE("a job for a queue or target elsewhere waits with a reason naming the nodes when none can take it") {
    LocalView local{"a", {"default"}, true};
    std::vector<PeerView> peers{peer("b", 0, 0, {"build"}, false), peer("c", 0, 3, {"build"})};
    auto placement = place(job_on("build"), local, peers);
    CHECK(placement.kind == Kind::wait);
    CHECK(placement.reason == "no capacity for queue build: b lost, c busy (0 free)");

    placement = place(job_on("default", "z"), local, peers);
    CHECK(placement.kind == Kind::wait);
    CHECK(placement.reason == "no capacity for target z: node z is not known (offline)");

    peers[1].capacity = 1;
    placement = place(job_on("build"), local, peers);
    CHECK(placement.kind == Kind::forward);
    CHECK(placement.peer == "c");

    // A target overrides the queue, both ways.
    CHECK(place(job_on("build", "a"), local, peers).kind == Kind::run_here);
    placement = place(job_on("default", "c"), local, peers);
    CHECK(placement.kind == Kind::forward);
    CHECK(placement.peer == "c");
}
