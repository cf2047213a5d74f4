// Placement: where a ready job runs, decided from the job and a snapshot of the cluster.
//
// "The local node first": a job that may run here runs on a free local worker; otherwise it
// goes to the least-loaded live peer that serves its queue (or is its target) and advertises
// a free worker; otherwise it stays queued here if this node serves its queue, and else it
// waits at the origin with a reason that names the nodes and why none can take it. The
// decision is pure: the dispatcher acts on it, membership supplies the peers.
#pragma once

#include "journal.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace zq::node {

// What placement needs to know about one peer.
struct PeerView {
    std::string name;
    bool alive = false;
    std::string state;           // "alive", "lost", "left", "connecting" (for the reason text)
    std::uint64_t capacity = 0;  // free capacity units as last advertised, minus what we sent since
    std::uint64_t load = 0;
    std::vector<std::string> queues;
    // This node introduced itself on the link since the peer last came alive (HELLO or
    // WELCOME went out first), so the peer knows this node's name when what follows arrives.
    bool introduced = false;
    std::uint64_t units = 0;  // its capacity in units (0: not advertised, taken as unknown)
};

// What placement needs to know about this node.
struct LocalView {
    std::string name;
    std::vector<std::string> queues;  // configured queues; "node:NAME" is always served too
    bool worker_free = false;
    std::uint64_t capacity = 0;  // capacity in units; a heavier job runs elsewhere (0: any weight)
};

struct Placement {
    enum class Kind {
        run_here,     // start on a free local worker
        forward,      // send to `peer`
        queue_here,   // keep it in the local queue until a worker frees up
        wait,         // no node can take it now: state waiting, `reason` says why
    };
    Kind kind = Kind::wait;
    std::string peer;
    std::string reason;
};

// Whether this node may run the job: it is not targeted at another node, and this node
// serves its queue (or it is targeted here, which overrides the queue); a job heavier than
// the node's capacity runs on a bigger node, unless it is targeted here.
bool runs_here(const JobRecord& job, const LocalView& local);

// Whether `peer` may run the job: it is the job's target, or (no target) it serves the queue.
bool may_run_on(const JobRecord& job, const PeerView& peer);

// Whether the peer has room for the job now: at least its weight in free units (all of its
// units when it is heavier than the peer), and for an exclusive job, nothing running there.
bool has_room(const JobRecord& job, const PeerView& peer);

Placement place(const JobRecord& job, const LocalView& local, const std::vector<PeerView>& peers);

// REJECTED's reason for a job heavier than every node that may run it ("weight 9 exceeds the
// capacity of every node that may run it (a: 8 units, b: 4 units): ..."); empty when one node
// is big enough, or may be (its capacity is not known yet), or no node known may run it (it
// then waits, like any job no node takes).
std::string heavier_than_every_node(const JobRecord& job, const LocalView& local, const std::vector<PeerView>& peers);

}  // namespace zq::node
