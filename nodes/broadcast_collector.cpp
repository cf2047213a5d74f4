#include "broadcast_collector.hpp"

#include "invariant.hpp"

#include <zq/codec.hpp>

#include <algorithm>

namespace zq::node {
namespace {

namespace f = protocol::field;

}  // namespace

std::string run_id(std::string_view broadcast_id, std::string_view node) {
    return std::string(broadcast_id) + kRunSeparator + std::string(node);
}

std::string_view broadcast_of_run(std::string_view run_id) {
    auto separator = run_id.find(kRunSeparator);
    return separator == std::string_view::npos ? std::string_view() : run_id.substr(0, separator);
}

Outcomes pending_outcomes(const std::vector<std::string>& targets) {
    Outcomes outcomes;
    for (const auto& node : targets) outcomes[node];
    return outcomes;
}

std::string pack_outcomes(const Outcomes& outcomes) {
    msgpack::sbuffer buffer;
    msgpack::packer<msgpack::sbuffer> packer(buffer);
    packer.pack_map(static_cast<std::uint32_t>(outcomes.size()));
    for (const auto& [node, outcome] : outcomes) {
        packer.pack(node);
        BodyWriter fields;
        fields.add(f::state, to_string(outcome.state));
        if (!outcome.result.empty()) fields.add_packed(f::result, outcome.result);
        if (!outcome.error.empty()) fields.add(f::error, outcome.error);
        std::string_view bytes = fields.finish();
        buffer.write(bytes.data(), bytes.size());
    }
    return std::string(buffer.data(), buffer.size());
}

Outcomes unpack_outcomes(std::string_view packed) {
    Outcomes outcomes;
    // Outcome results are cut to fit one message (result_limit), so the default bounds
    // hold them.
    auto unpacked = unpack_bounded(packed);
    if (!unpacked || unpacked->get().type != msgpack::type::MAP) return outcomes;
    const auto& map = unpacked->get().via.map;
    for (std::uint32_t i = 0; i < map.size; ++i) {
        if (map.ptr[i].key.type != msgpack::type::STR || map.ptr[i].val.type != msgpack::type::MAP) continue;
        FieldReader fields(map.ptr[i].val);
        Outcome outcome;
        outcome.state = job_state_from_string(fields.string(f::state).value_or("pending")).value_or(JobState::pending);
        outcome.result = fields.packed(f::result).value_or("");
        outcome.error = std::string(fields.string(f::error).value_or(""));
        outcomes.emplace(map.ptr[i].key.as<std::string>(), std::move(outcome));
    }
    return outcomes;
}

BroadcastCollector::BroadcastCollector(std::string self, std::size_t max_message_bytes)
    : self_(std::move(self)), max_message_bytes_(max_message_bytes) {}

void BroadcastCollector::open(const std::string& id, Outcomes outcomes) {
    ZQ_ASSERT(!holds(id), "a broadcast is opened once");
    Collecting run;
    run.outcomes = std::move(outcomes);
    for (const auto& [node, outcome] : run.outcomes) {
        if (node != self_ && !is_terminal(outcome.state)) run.untaken.insert(node);
    }
    runs_[id] = std::move(run);
}

void BroadcastCollector::restore(const std::string& id, std::string_view packed) { open(id, unpack_outcomes(packed)); }

void BroadcastCollector::drop(std::string_view id) {
    if (auto found = runs_.find(id); found != runs_.end()) runs_.erase(found);
}

bool BroadcastCollector::holds(std::string_view id) const { return runs_.find(id) != runs_.end(); }

const Outcomes* BroadcastCollector::outcomes(std::string_view id) const {
    auto found = runs_.find(id);
    return found == runs_.end() ? nullptr : &found->second.outcomes;
}

std::optional<BroadcastCollector::Run> BroadcastCollector::run_of(std::string_view run_id) const {
    std::string_view broadcast = broadcast_of_run(run_id);
    if (broadcast.empty() || !holds(broadcast)) return std::nullopt;
    return Run{std::string(broadcast), std::string(run_id.substr(broadcast.size() + 1))};
}

void BroadcastCollector::taken(const Run& run) {
    if (auto found = runs_.find(run.broadcast); found != runs_.end()) found->second.untaken.erase(run.node);
}

std::size_t BroadcastCollector::result_limit(const Collecting& run) const {
    // Every outcome together fills at most half of a message, so that STATE and the job
    // reply carrying them stay decodable.
    return max_message_bytes_ / 2 / std::max<std::size_t>(1, run.outcomes.size());
}

BroadcastCollector::Recorded BroadcastCollector::record(const std::string& id, const std::string& node, JobState state,
                                                        std::string_view result, std::string_view error) {
    auto found = runs_.find(id);
    if (found == runs_.end()) return {};
    Collecting& run = found->second;
    auto outcome = run.outcomes.find(node);
    if (outcome == run.outcomes.end() || is_terminal(outcome->second.state)) return {Recorded::Kind::ignored};
    outcome->second = Outcome{state, std::string(result), std::string(error)};
    if (result.size() > result_limit(run)) {
        outcome->second.result.clear();
        outcome->second.error = "result of " + std::to_string(result.size()) +
                                " bytes left out here; `zq-send status " + run_id(id, node) + "` on " + node +
                                " shows it";
    }
    run.untaken.erase(node);
    Recorded recorded = completion(run.outcomes);
    if (recorded.kind == Recorded::Kind::complete) runs_.erase(found);
    return recorded;
}

BroadcastCollector::Recorded BroadcastCollector::completion(const Outcomes& outcomes) {
    Recorded recorded{Recorded::Kind::complete, pack_outcomes(outcomes), JobState::succeeded, {}};
    std::size_t unsuccessful = 0;
    std::size_t errors = 0;  // unsuccessful because zq failed the run (a node lost, ...)
    std::string failures;
    for (const auto& [name, each] : outcomes) {
        if (!is_terminal(each.state)) {
            recorded.kind = Recorded::Kind::open;
        } else if (each.state != JobState::succeeded) {
            ++unsuccessful;
            if (each.state == JobState::error) ++errors;
            failures += (failures.empty() ? "" : "; ") + name + ": " + std::string(to_string(each.state));
            if (!each.error.empty()) failures += " (" + each.error + ")";
        }
    }
    if (recorded.kind == Recorded::Kind::open) {
        recorded.state = JobState::pending;
    } else if (unsuccessful > 0) {
        // Failed when a task failed somewhere; error when only zq failed the runs.
        recorded.state = errors == unsuccessful ? JobState::error : JobState::failed;
        recorded.explanation = std::to_string(unsuccessful) + " of " + std::to_string(outcomes.size()) +
                               " nodes did not succeed: " + failures;
    }
    return recorded;
}

std::vector<std::string> BroadcastCollector::waiting_for(const std::string& node) const {
    std::vector<std::string> waiting;
    for (const auto& [id, run] : runs_) {
        auto outcome = run.outcomes.find(node);
        if (outcome != run.outcomes.end() && !is_terminal(outcome->second.state)) waiting.push_back(id);
    }
    return waiting;
}

std::set<std::string> BroadcastCollector::pending_nodes() const {
    std::set<std::string> nodes;
    for (const auto& [id, run] : runs_) {
        for (const auto& [node, outcome] : run.outcomes) {
            if (node != self_ && !is_terminal(outcome.state)) nodes.insert(node);
        }
    }
    return nodes;
}

void BroadcastCollector::sent(std::string_view id, std::int64_t now_ms) {
    if (auto found = runs_.find(id); found != runs_.end()) found->second.sent_ms = now_ms;
}

std::vector<BroadcastCollector::Resend> BroadcastCollector::due(std::int64_t now_ms, std::int64_t interval_ms) {
    std::vector<Resend> due;
    for (auto& [id, run] : runs_) {
        if (run.untaken.empty() || now_ms - run.sent_ms < interval_ms) continue;
        due.push_back({id, {run.untaken.begin(), run.untaken.end()}});
        run.sent_ms = now_ms;
    }
    return due;
}

}  // namespace zq::node
