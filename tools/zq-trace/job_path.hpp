// One job's path across nodes (zq-trace --job): the events and tapped messages about it,
// kept once each, in the order they happened, with the time spent between them.
//
// The same message can arrive twice, from a node's history and live; (node, incarnation,
// stream, seq) names one message, so the second copy is dropped. The path ends when the
// job's end is seen at its origin, the node that published the first record of it: a
// terminal EVENT of the job from that node, or a terminal STATE sent to a client. Requests
// for the job's history (CONTROL history) name the job but are not part of its path.
#pragma once

#include <zq/events.hpp>

#include <iosfwd>
#include <set>
#include <string>
#include <tuple>
#include <vector>

namespace zq::trace {

class JobPath {
public:
    explicit JobPath(std::string job_id);

    const std::string& job_id() const { return job_id_; }
    // Keeps an event about the job (or one of its broadcast runs), and every gap, since a
    // gap may hide a hop; ignores the rest.
    void add(const Event& event);
    bool end_seen() const;
    // The hops sorted by time; ties by node, then sequence number.
    std::vector<Event> hops() const;
    const std::vector<Event>& gaps() const { return gaps_; }

private:
    std::string job_id_;
    EventFilter about_job_;
    std::set<std::tuple<std::string, std::string, std::string, std::uint64_t>> seen_;
    std::vector<Event> hops_;
    std::vector<Event> gaps_;
};

// Prints the hops that pass `display`, each with the time since the previous one printed,
// then the total (a text line, or a JSON object of kind "total"), then the gaps.
void print_path(std::ostream& out, const JobPath& path, const EventFilter& display, bool json);

}  // namespace zq::trace
