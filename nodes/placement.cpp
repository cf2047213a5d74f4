#include "placement.hpp"

#include <algorithm>

namespace zq::node {
namespace {

bool serves(const std::vector<std::string>& queues, const std::string& queue) {
    return std::find(queues.begin(), queues.end(), queue) != queues.end();
}

// "b offline", "b busy (0 free)", "c lost"...: why one candidate cannot take the job now.
std::string why_not(const JobRecord& job, const PeerView& peer) {
    if (!peer.alive) return peer.name + " " + (peer.state.empty() ? "offline" : peer.state);
    if (job.exclusive && peer.capacity > 0) return peer.name + " busy (exclusive: jobs run there)";
    if (job.weight > 1) {
        return peer.name + " busy (weight " + std::to_string(job.weight) + ": " + std::to_string(peer.capacity) +
               " units free)";
    }
    return peer.name + " busy (0 free)";
}

std::string wait_reason(const JobRecord& job, const std::vector<PeerView>& peers) {
    std::string subject = job.target.empty() ? "queue " + job.queue : "target " + job.target;
    std::string why;
    for (const PeerView& peer : peers) {
        if (!may_run_on(job, peer)) continue;
        why += (why.empty() ? "" : ", ") + why_not(job, peer);
    }
    if (why.empty()) {
        why = job.target.empty() ? "no known node serves it" : "node " + job.target + " is not known (offline)";
    }
    return "no capacity for " + subject + ": " + why;
}

}  // namespace

bool runs_here(const JobRecord& job, const LocalView& local) {
    if (!job.target.empty()) return job.target == local.name;
    if (local.capacity > 0 && job.weight > local.capacity) return false;
    return serves(local.queues, job.queue) || job.queue == "node:" + local.name;
}

bool has_room(const JobRecord& job, const PeerView& peer) {
    if (peer.capacity == 0) return false;
    // A peer that does not advertise its units (an older zq) is taken as one unit per worker.
    if (peer.units == 0) return !job.exclusive && job.weight <= peer.capacity;
    if (job.exclusive) return peer.capacity >= peer.units;
    return std::min<std::uint64_t>(job.weight, peer.units) <= peer.capacity;
}

bool may_run_on(const JobRecord& job, const PeerView& peer) {
    if (!job.target.empty()) return job.target == peer.name;
    return serves(peer.queues, job.queue);
}

Placement place(const JobRecord& job, const LocalView& local, const std::vector<PeerView>& peers) {
    bool here = runs_here(job, local);
    if (here && local.worker_free) return {Placement::Kind::run_here, {}, {}};
    // Least loaded first; capacity breaks ties, then the name, so that the choice is stable.
    const PeerView* best = nullptr;
    if (job.target != local.name) {
        for (const PeerView& peer : peers) {
            if (!peer.alive || !has_room(job, peer) || !may_run_on(job, peer)) continue;
            if (!best || peer.load < best->load || (peer.load == best->load && peer.capacity > best->capacity) ||
                (peer.load == best->load && peer.capacity == best->capacity && peer.name < best->name)) {
                best = &peer;
            }
        }
    }
    if (best) return {Placement::Kind::forward, best->name, {}};
    if (here) return {Placement::Kind::queue_here, {}, {}};
    return {Placement::Kind::wait, {}, wait_reason(job, peers)};
}

std::string heavier_than_every_node(const JobRecord& job, const LocalView& local, const std::vector<PeerView>& peers) {
    std::string sizes;
    // False when the node may take the job: big enough, or its capacity unknown (0).
    auto too_small = [&](const std::string& name, std::uint64_t units) {
        if (units == 0 || units >= job.weight) return false;
        sizes += (sizes.empty() ? "" : ", ") + name + ": " + std::to_string(units) + " units";
        return true;
    };
    bool candidate = false;
    LocalView any_weight = local;
    any_weight.capacity = 0;
    if (runs_here(job, any_weight)) {
        candidate = true;
        if (!too_small(local.name, local.capacity)) return {};
    }
    if (job.target != local.name) {
        for (const PeerView& peer : peers) {
            if (!may_run_on(job, peer)) continue;
            candidate = true;
            if (!too_small(peer.name, peer.units)) return {};
        }
    }
    if (!candidate) return {};
    return "weight " + std::to_string(job.weight) + " exceeds the capacity of every node that may run it (" + sizes +
           "): lower the weight or raise `capacity`";
}

}  // namespace zq::node
