// The jobs this node may not run (another queue, another target), at their origin: each is
// forwarded to a peer as soon as placement finds one that can take it, and waits until then
// with the reason none can, which `zq-node status` shows and the log tells when it changes.
#pragma once

#include "job_table.hpp"

#include <list>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace zq::node {

class ElsewhereQueue {
public:
    void add(Job& job);
    // Takes the job out (it was forwarded, canceled or dropped); false when it was not here.
    bool remove(Job& job);
    bool contains(const Job& job) const;
    std::size_t size() const { return entries_.size(); }

    // The jobs in the order they came, as a copy: placement removes them while it goes.
    std::vector<Job*> jobs() const;
    // Records why the job waits; true when the reason is new (worth a line in the log).
    bool set_reason(Job& job, const std::string& reason);
    // The jobs in state waiting and their reasons, for status.
    std::vector<std::pair<std::string, std::string>> waiting() const;

private:
    struct Entry {
        Job* job;
        std::string reason;  // empty until placement has found no node for it
    };
    // In the order the jobs came (placement serves the oldest first), with an index so that
    // taking one job out or giving it a reason does not walk the others.
    std::list<Entry> entries_;
    std::unordered_map<const Job*, std::list<Entry>::iterator> index_;
};

}  // namespace zq::node
