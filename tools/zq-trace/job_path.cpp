#include "job_path.hpp"

#include "event_format.hpp"

#include <zq/codec.hpp>
#include <zq/json.hpp>

#include <algorithm>
#include <cstdint>
#include <ostream>

namespace zq::trace {

namespace {

constexpr std::string_view kClientPeerPrefix = "client:";

// A CONTROL asking a node for the job's history (zq-trace's own, among others) names the job
// but is no step of it: without this, every trace of a job would end with its own requests.
bool is_history_request(const Event& event) {
    if (event.kind != EventKind::tap || event.command != "CONTROL" || event.body.empty()) return false;
    auto body = unpack_bounded(event.body);
    if (!body || body->get().type != msgpack::type::MAP) return false;
    return FieldReader(body->get()).string("op") == "history";
}

bool happened_before(const Event& left, const Event& right) {
    return std::tie(left.time_us, left.node, left.seq) < std::tie(right.time_us, right.node, right.seq);
}

std::int64_t microseconds_between(const Event& earlier, const Event& later) {
    return static_cast<std::int64_t>(later.time_us) - static_cast<std::int64_t>(earlier.time_us);
}

// "SUBMIT in at a", "EVENT succeeded at b": a hop in a sentence.
std::string describe(const Event& hop) {
    std::string text = hop.command;
    if (!hop.direction.empty()) text += " " + hop.direction;
    if (hop.kind == EventKind::event) text += " " + hop.state;
    return text + " at " + hop.node;
}

}  // namespace

JobPath::JobPath(std::string job_id) : job_id_(std::move(job_id)) { about_job_.job = job_id_; }

void JobPath::add(const Event& event) {
    if (event.kind == EventKind::gap) {
        gaps_.push_back(event);
        return;
    }
    if (!about_job_.matches(event) || is_history_request(event)) return;
    if (!seen_.emplace(event.node, event.incarnation, std::string(stream_of(event)), event.seq).second) return;
    hops_.push_back(event);
}

bool JobPath::end_seen() const {
    if (hops_.empty()) return false;
    const std::string& origin = std::min_element(hops_.begin(), hops_.end(), happened_before)->node;
    return std::any_of(hops_.begin(), hops_.end(), [&](const Event& hop) {
        if (hop.id != job_id_ || !is_terminal_state(hop.state)) return false;
        if (hop.kind == EventKind::event) return hop.node == origin;
        return hop.kind == EventKind::tap && hop.direction == "out" && hop.command == "STATE" &&
               hop.peer.starts_with(kClientPeerPrefix);
    });
}

std::vector<Event> JobPath::hops() const {
    std::vector<Event> sorted = hops_;
    std::stable_sort(sorted.begin(), sorted.end(), happened_before);
    return sorted;
}

void print_path(std::ostream& out, const JobPath& path, const EventFilter& display, bool json) {
    std::vector<Event> shown;
    for (const Event& hop : path.hops()) {
        if (display.matches(hop)) shown.push_back(hop);
    }
    for (std::size_t i = 0; i < shown.size(); ++i) {
        const std::int64_t delta_us = i == 0 ? 0 : microseconds_between(shown[i - 1], shown[i]);
        if (json) {
            nlohmann::json object = event_to_json(shown[i]);
            object["delta_us"] = delta_us;
            out << dump_json(object) << '\n';
        } else {
            out << format_line(shown[i], delta_text(delta_us)) << '\n';
        }
    }
    const std::int64_t total_us = shown.empty() ? 0 : microseconds_between(shown.front(), shown.back());
    const bool ended = path.end_seen();
    if (json) {
        out << dump_json({{"kind", "total"},
                          {"id", path.job_id()},
                          {"hops", shown.size()},
                          {"total_us", total_us},
                          {"end_seen", ended}})
            << '\n';
    } else if (shown.empty()) {
        out << "no trace of job " << path.job_id() << " on these nodes\n";
    } else {
        out << "total " << delta_text(total_us).substr(1) << " over " << shown.size() << " hops, from "
            << describe(shown.front()) << " to " << describe(shown.back())
            << (ended ? "; the job ended" : "; its end was not seen") << '\n';
    }
    for (const Event& gap : path.gaps()) {
        if (!display.matches(gap)) continue;
        out << render(gap, json) << '\n';
    }
}

}  // namespace zq::trace
