// Broadcasts: "run this task once on every live node" (see "Fanout" in docs/protocol.md).
//
// The origin journals a broadcast as a job with target "*" whose result is the map of
// outcomes by node, kept by the broadcast collector (broadcast_collector.hpp). It publishes
// the envelope with the list of targets; each target runs it as the job ID@NODE, which
// reports to the origin exactly like a forwarded job. The origin's own run reports in memory.
#include "dispatcher.hpp"

#include "clock.hpp"
#include "invariant.hpp"

#include <spdlog/spdlog.h>

namespace zq::node {
namespace {

namespace f = protocol::field;
using protocol::Command;

// Room for what the publisher adds to a broadcast (incarnation, sequence number, time).
constexpr std::size_t kPublishedFieldsBytes = 128;

}  // namespace

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
    if (jobs_.size() + 2 > config_.max_pending) {
        reply_rejected(client, id, busy_reason());
        return;
    }
    // The targets are this node and every peer alive now; a node that joins later does not
    // run it.
    std::vector<std::string> targets{config_.name};
    if (peers_.views) {
        for (const PeerView& peer : peers_.views()) {
            if (peer.alive) targets.push_back(peer.name);
        }
    }
    Outcomes outcomes = pending_outcomes(targets);
    Task own_run = *task;
    JobRecord record = record_from(std::move(*task), wall_ms(), config_.name);
    record.target = "*";
    record.state = JobState::running;
    record.result = pack_outcomes(outcomes);
    // What the targets receive must fit in one message, with the numbers the publisher adds.
    BodyWriter published;
    write_broadcast(published, record, outcomes, config_.name);
    if (published.finish().size() + kPublishedFieldsBytes > config_.limits.max_message_bytes) {
        reply_rejected(client, id,
                       "bad task: too large to broadcast (over max_message_bytes with the list of " +
                           std::to_string(outcomes.size()) + " target nodes)");
        return;
    }
    if (!insert_submitted(client, record, watch)) return;
    Job& job = hold_accepted(std::move(record), client);
    job.owner = "*";
    if (watch) add_watcher(job, client);
    turn_.publish(job);
    spdlog::info("broadcast {} ({}) to {} nodes", id, job.record.task, outcomes.size());
    broadcasts_.open(id, std::move(outcomes));
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

void Dispatcher::record_outcome(const std::string& id, const std::string& node, JobState state, std::string_view result,
                                std::string_view error) {
    Job* job = jobs_.find(id);
    if (!job || !broadcasts_.holds(id)) {
        spdlog::info("late outcome {} of broadcast {} from node {} ignored: the broadcast has ended", to_string(state),
                     id, node);
        return;
    }
    auto recorded = broadcasts_.record(id, node, state, result, error);
    using Kind = BroadcastCollector::Recorded::Kind;
    if (recorded.kind == Kind::open) {
        // Recorded as it comes, so that a restart of the origin keeps the outcomes so far.
        job->record.result = std::move(recorded.outcomes);
        write_outcomes(*job);
    } else if (recorded.kind == Kind::complete) {
        finish(*job, recorded.state, recorded.outcomes, recorded.explanation);
    }
}

void Dispatcher::write_outcomes(Job& job) {
    JobRecord& record = job.record;
    record.updated_ms = wall_ms();
    journal_write(journal_.update_state(record));
    turn_.outcomes_written(record.id);
}

void Dispatcher::publish_broadcasts(const std::vector<Job*>& jobs) {
    for (Job* job : jobs) {
        const Outcomes* outcomes = broadcasts_.outcomes(job->record.id);
        if (!outcomes) continue;  // every outcome is in already: nobody else runs it
        BodyWriter body;
        write_broadcast(body, job->record, *outcomes, config_.name);
        broadcasts_.sent(job->record.id, steady_ms());
        if (publisher_) publisher_->publish_broadcast(body);
    }
}

void Dispatcher::resend_broadcasts() {
    // PUB/SUB and the subscribers' repair are the fast path; a target that has not taken its
    // run after an interval (it joined just then, or this node restarted) hears it directly.
    auto interval = static_cast<std::int64_t>(config_.heartbeat_interval * 1000);
    for (const auto& resend : broadcasts_.due(steady_ms(), interval)) {
        const Job* job = jobs_.find(resend.id);
        ZQ_ASSERT(job, "a broadcast being collected is held by the job table");
        if (!job) continue;
        BodyWriter body;
        write_broadcast(body, job->record, *broadcasts_.outcomes(resend.id), config_.name);
        std::string bytes(body.finish());
        for (const auto& node : resend.nodes) {
            if (peers_.alive(node)) to_peer(node, Command::broadcast, bytes);
        }
    }
}

void Dispatcher::restore_broadcast(Job& job) {
    job.owner = "*";
    const std::string& id = job.record.id;
    broadcasts_.restore(id, job.record.result);
    // This node's own run may have ended just before the restart, before its outcome was
    // recorded here.
    const Outcomes& outcomes = *broadcasts_.outcomes(id);
    auto own = outcomes.find(config_.name);
    if (own == outcomes.end() || is_terminal(own->second.state)) return;
    auto stored = journal_.find(run_id(id, config_.name));
    if (stored && *stored && is_terminal((*stored)->state)) {
        record_outcome(id, config_.name, (*stored)->state, (*stored)->result, (*stored)->error);
    }
}

}  // namespace zq::node
