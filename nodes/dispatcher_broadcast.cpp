// Broadcasts: "run this task once on every live node" (see "Fanout" in docs/protocol.md).
//
// The origin journals a broadcast as a job with target "*" whose result is the map of
// outcomes by node, {NODE: {st, res?, err?}}, "pending" until the node reports. It publishes
// the envelope with the list of targets; each target runs it as the job ID@NODE, which
// reports to the origin exactly like a forwarded job. The origin's own run reports in memory.
#include "dispatcher.hpp"

#include "clock.hpp"

#include <spdlog/spdlog.h>

namespace zq::node {
namespace {

namespace f = protocol::field;
using protocol::Command;

// Room for what the publisher adds to a broadcast (incarnation, sequence number, time).
constexpr std::size_t kPublishedFieldsBytes = 128;

std::string run_id(std::string_view broadcast_id, std::string_view node) {
    return std::string(broadcast_id) + kRunSeparator + std::string(node);
}

}  // namespace

std::string Dispatcher::pack_outcomes(const BroadcastRun& run) {
    msgpack::sbuffer buffer;
    msgpack::packer<msgpack::sbuffer> packer(buffer);
    packer.pack_map(static_cast<std::uint32_t>(run.outcomes.size()));
    for (const auto& [node, outcome] : run.outcomes) {
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

Dispatcher::BroadcastRun Dispatcher::unpack_outcomes(std::string_view packed) {
    BroadcastRun run;
    // Outcome results are cut to fit one message (outcome_result_limit), so the default
    // bounds hold them.
    auto unpacked = unpack_bounded(packed);
    if (!unpacked || unpacked->get().type != msgpack::type::MAP) return run;
    const auto& map = unpacked->get().via.map;
    for (std::uint32_t i = 0; i < map.size; ++i) {
        if (map.ptr[i].key.type != msgpack::type::STR || map.ptr[i].val.type != msgpack::type::MAP) continue;
        FieldReader fields(map.ptr[i].val);
        Outcome outcome;
        outcome.state = job_state_from_string(fields.string(f::state).value_or("pending")).value_or(JobState::pending);
        outcome.result = fields.packed(f::result).value_or("");
        outcome.error = std::string(fields.string(f::error).value_or(""));
        run.outcomes.emplace(map.ptr[i].key.as<std::string>(), std::move(outcome));
    }
    return run;
}

void Dispatcher::broadcast(const std::string& client, const Message& message) {
    auto task = read_task(message, config_.limits);
    std::string id(message.string(f::id).value_or(""));
    if (task && id.find(kRunSeparator) != std::string::npos) {
        task = Error{"a broadcast id may not contain '@' (its runs are named ID@NODE)"};
    }
    if (!task) {
        reply_rejected(client, id, "bad task: " + task.error());
        return;
    }
    bool watch = message.boolean(f::watch).value_or(false);
    if (answer_active(client, id, watch)) return;
    // Room for the broadcast and for this node's own run of it.
    if (active_.size() + 2 > config_.max_pending) {
        reply_rejected(client, id, busy_reason());
        return;
    }
    // The targets are this node and every peer alive now; a node that joins later does not
    // run it.
    BroadcastRun run;
    run.outcomes[config_.name];
    if (peers_.views) {
        for (const PeerView& peer : peers_.views()) {
            if (peer.alive) run.outcomes[peer.name];
        }
    }
    Task own_run = *task;
    auto job = std::make_unique<Job>();
    job->record = record_from(std::move(*task), wall_ms(), config_.name);
    job->record.target = "*";
    job->record.state = JobState::running;
    job->record.result = pack_outcomes(run);
    job->owner = "*";
    // What the targets receive must fit in one message, with the numbers the publisher adds.
    BodyWriter published;
    write_broadcast(published, job->record, run);
    if (published.finish().size() + kPublishedFieldsBytes > config_.limits.max_message_bytes) {
        reply_rejected(client, id,
                       "bad task: too large to broadcast (over max_message_bytes with the list of " +
                           std::to_string(run.outcomes.size()) + " target nodes)");
        return;
    }
    if (!insert_submitted(client, job->record, watch)) return;
    Job& ref = *job;
    if (watch) add_watcher(ref, client);
    active_.emplace(id, std::move(job));
    ++counts_[static_cast<std::size_t>(JobState::running)];
    note_event(ref.record);
    turn_.accepted.push_back(&ref);
    turn_.accepted_by.push_back(client);
    turn_.broadcasts.push_back(&ref);
    for (const auto& [node, outcome] : run.outcomes) {
        if (node != config_.name) run.untaken.insert(node);
    }
    spdlog::info("broadcast {} ({}) to {} nodes", id, ref.record.task, run.outcomes.size());
    broadcasts_[id] = std::move(run);
    own_run.id = run_id(id, config_.name);
    own_run.target = config_.name;
    run_for_origin(config_.name, std::move(own_run));
}

void Dispatcher::on_broadcast(const Message& message) {
    std::string origin(message.string(f::node).value_or(""));
    std::string id(message.string(f::id).value_or(""));
    bool targeted = false;
    if (const msgpack::object* targets = message.find(f::targets)) {
        for (std::uint32_t i = 0; i < targets->via.array.size && !targeted; ++i) {
            const auto& name = targets->via.array.ptr[i];
            targeted = name.type == msgpack::type::STR && name.as<std::string_view>() == config_.name;
        }
    }
    if (!targeted) {
        // Published before this node was a member (or without it for another reason).
        spdlog::debug("broadcast {} from {} is not for this node; ignored", id, origin);
        return;
    }
    auto task = read_task(message, config_.limits);
    if (origin.empty() || origin == config_.name || !task) {
        spdlog::warn("broadcast {} from node '{}' refused: {}", id, origin,
                     !task ? task.error() : "no origin node, or this node's own");
        return;
    }
    task->id = run_id(id, config_.name);
    task->target = config_.name;
    run_for_origin(origin, std::move(*task));
}

Dispatcher::BroadcastRun* Dispatcher::broadcast_run_of(std::string_view id, std::string* node) {
    std::string_view broadcast = broadcast_of_run(id);
    if (broadcast.empty()) return nullptr;
    auto found = broadcasts_.find(broadcast);
    if (found == broadcasts_.end()) return nullptr;
    *node = std::string(id.substr(broadcast.size() + 1));
    return &found->second;
}

void Dispatcher::record_outcome(const std::string& id, const std::string& node, JobState state,
                                std::string_view result, std::string_view error) {
    auto found = broadcasts_.find(id);
    Job* job = active(id);
    if (found == broadcasts_.end() || !job) {
        spdlog::info("late outcome {} of broadcast {} from node {} ignored: the broadcast has ended", to_string(state),
                     id, node);
        return;
    }
    BroadcastRun& run = found->second;
    auto outcome = run.outcomes.find(node);
    if (outcome == run.outcomes.end() || is_terminal(outcome->second.state)) return;
    outcome->second = Outcome{state, std::string(result), std::string(error)};
    if (result.size() > outcome_result_limit(run)) {
        outcome->second.result.clear();
        outcome->second.error = "result of " + std::to_string(result.size()) +
                                " bytes left out here; `zq-send status " + id + "@" + node + "` on " + node +
                                " shows it";
    }
    run.untaken.erase(node);
    job->record.result = pack_outcomes(run);

    std::size_t open = 0, unsuccessful = 0;
    std::string failures;
    for (const auto& [name, each] : run.outcomes) {
        if (!is_terminal(each.state)) ++open;
        if (is_terminal(each.state) && each.state != JobState::succeeded) {
            ++unsuccessful;
            failures += (failures.empty() ? "" : "; ") + name + ": " + std::string(to_string(each.state));
            if (!each.error.empty()) failures += " (" + each.error + ")";
        }
    }
    if (open > 0) {
        // Recorded as it comes, so that a restart of the origin keeps the outcomes so far.
        write_outcomes(*job);
        turn_.outcome_writes.push_back(id);
        return;
    }
    broadcasts_.erase(found);
    if (unsuccessful == 0) {
        finish(*job, JobState::succeeded, job->record.result, {});
    } else {
        std::string explanation = std::to_string(unsuccessful) + " of " + std::to_string(run.outcomes.size()) +
                                  " nodes did not succeed: " + failures;
        std::string outcomes = job->record.result;
        finish(*job, JobState::failed, outcomes, explanation);
    }
}

void Dispatcher::write_outcomes(Job& job) {
    job.record.updated_ms = wall_ms();
    journal_write(journal_.update_state(job.record.id, job.record.state, job.record.result, {}, job.record.node,
                                        job.record.updated_ms));
}

std::size_t Dispatcher::outcome_result_limit(const BroadcastRun& run) const {
    // Every outcome together fills at most half of a message, so that STATE and the job
    // reply carrying them stay decodable.
    return config_.limits.max_message_bytes / 2 / std::max<std::size_t>(1, run.outcomes.size());
}

void Dispatcher::publish_broadcasts(const std::vector<Job*>& jobs) {
    for (Job* job : jobs) {
        auto found = broadcasts_.find(job->record.id);
        if (found == broadcasts_.end()) continue;  // every outcome is in already: nobody else runs it
        BodyWriter body;
        write_broadcast(body, job->record, found->second);
        found->second.sent_ms = steady_ms();
        if (publisher_) publisher_->publish_broadcast(body);
    }
}

void Dispatcher::resend_broadcasts() {
    // PUB/SUB and the subscribers' repair are the fast path; a target that has not taken its
    // run after an interval (it joined just then, or this node restarted) hears it directly.
    std::int64_t due = steady_ms() - static_cast<std::int64_t>(config_.heartbeat_interval * 1000);
    for (auto& [id, run] : broadcasts_) {
        if (run.untaken.empty() || run.sent_ms > due) continue;
        Job* job = active(id);
        if (!job) continue;
        BodyWriter body;
        write_broadcast(body, job->record, run);
        std::string bytes(body.finish());
        for (const auto& node : run.untaken) {
            if (peers_.alive(node)) to_peer(node, Command::broadcast, bytes);
        }
        run.sent_ms = steady_ms();
    }
}

void Dispatcher::write_broadcast(BodyWriter& body, const JobRecord& job, const BroadcastRun& run) const {
    write_envelope(body, job);
    auto& targets = body.begin(f::targets);
    targets.pack_array(static_cast<std::uint32_t>(run.outcomes.size()));
    for (const auto& [node, outcome] : run.outcomes) targets.pack(node);
}

void Dispatcher::restore_broadcast(Job& job) {
    job.owner = "*";
    BroadcastRun run = unpack_outcomes(job.record.result);
    for (const auto& [node, outcome] : run.outcomes) {
        if (node != config_.name && !is_terminal(outcome.state)) run.untaken.insert(node);
    }
    std::string id = job.record.id;
    broadcasts_[id] = std::move(run);
    // This node's own run may have ended just before the restart, before its outcome was
    // recorded here.
    auto own = broadcasts_[id].outcomes.find(config_.name);
    if (own != broadcasts_[id].outcomes.end() && !is_terminal(own->second.state)) {
        auto stored = journal_.find(run_id(id, config_.name));
        if (stored && *stored && is_terminal((*stored)->state)) {
            record_outcome(id, config_.name, (*stored)->state, (*stored)->result, (*stored)->error);
        }
    }
}

}  // namespace zq::node
