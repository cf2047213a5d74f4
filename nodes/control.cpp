#include "control.hpp"

#include <zq/json.hpp>

#include <unistd.h>

namespace zq::node {
namespace {

namespace f = protocol::field;
using protocol::Command;

void answer(ControlContext& node, const std::string& client, RequestId request_id, const nlohmann::json& data) {
    node.dispatcher.reply(client, Command::control_reply, control_reply_body(request_id, pack_json(data)));
}

void refuse(ControlContext& node, const std::string& client, RequestId request_id, const std::string& why) {
    node.dispatcher.reply(client, Command::control_reply, control_error_body(request_id, why));
}

// REJECTED answers by kind; malformed messages are answered (and counted) by the port.
nlohmann::json rejected_by(ControlContext& node) {
    nlohmann::json counts = node.dispatcher.rejections().json();
    auto name = [](std::string_view prefix) {
        return std::string(protocol::rejection_name(protocol::rejection_kind(prefix)));
    };
    counts[name("malformed message:")] = node.port.malformed() + node.peer_port.malformed();
    // The ports count what they refuse themselves; the peer port both of its kinds together.
    counts[name("peer command on the client port")] = node.port.refused();
    counts[name("client command on the peer port")] = node.peer_port.refused();
    counts.erase(name("unknown peer:"));
    return counts;
}

}  // namespace

nlohmann::json node_status(ControlContext& node) {
    nlohmann::json workers = nlohmann::json::array();
    for (const WorkerStats& worker : node.pool.stats()) {
        nlohmann::json task = nullptr;
        if (!worker.job_id.empty()) task = {{"id", worker.job_id}, {"name", worker.task}};
        workers.push_back({{"pid", worker.pid},
                           {"sent", worker.sent},
                           {"finished", worker.finished},
                           {"qsize", worker.held},
                           {"rss", worker.rss_bytes},
                           {"ready", worker.ready},
                           {"task", task}});
    }
    nlohmann::json jobs = nlohmann::json::object();
    const auto& counts = node.dispatcher.counts_by_state();
    for (std::size_t i = 0; i < counts.size(); ++i) {
        jobs[std::string(to_string(static_cast<JobState>(i)))] = counts[i];
    }
    nlohmann::json waiting = nlohmann::json::array();
    for (const auto& [id, reason] : node.dispatcher.waiting_jobs()) waiting.push_back({{"id", id}, {"reason", reason}});
    // Queued jobs the capacity gate holds back, and what each waits for (capacity_gate.hpp).
    nlohmann::json held = nlohmann::json::array();
    for (const auto& [id, reason] : node.dispatcher.held_jobs()) held.push_back({{"id", id}, {"reason", reason}});
    const CapacityGate& gate = node.dispatcher.capacity();
    nlohmann::json status = {
        {"name", node.config.name},
        {"incarnation", node.incarnation},
        {"pid", static_cast<int>(getpid())},
        {"endpoint", node.config.local_endpoint()},
        {"queues", node.config.queues},
        {"advertise", node.membership.advertised_endpoint()},
        {"pool",
         {{"min", node.config.min_workers},
          {"max", node.config.max_workers},
          {"size", node.pool.size()},
          {"busy", node.pool.busy()}}},
        {"workers", workers},
        {"jobs", jobs},
        {"pending", node.dispatcher.pending()},
        {"waiting", waiting},
        {"capacity", {{"units", gate.capacity()}, {"in_use", gate.units_in_use()}, {"on_workers", gate.on_workers()}}},
        {"held", held},
        {"messages",
         {{"received", node.port.received()},
          {"malformed", node.port.malformed() + node.peer_port.malformed()},
          {"rejected", node.dispatcher.rejected_count()},
          {"rejected_by", rejected_by(node)},
          {"undeliverable", node.dispatcher.undeliverable_count()}}},
    };
    // Input refused for where it came from (docs/architecture.md, "Peers apart from clients").
    status["security"] = {
        {"peer_commands_refused", node.port.refused()},
        {"client_commands_refused", node.peer_port.refused()},
        {"malformed_disconnects", node.port.malformed_disconnects() + node.peer_port.malformed_disconnects()},
    };
    status["fanout"] = node.publisher.status_json();
    status["fanout"]["publishers"] = node.subscriber.status_json();
    if (node.security) {
        const nlohmann::json security = node.security();
        for (const auto& [key, value] : security.items()) status["security"][key] = value;
    }
    return status;
}

void handle_control(ControlContext& node, const std::string& client, const Message& message) {
    std::string_view operation = *message.string(f::operation);
    const RequestId request_id = message.unsigned_integer(f::request_id);
    std::string id(message.string(f::id).value_or(""));

    if (operation == "status") {
        answer(node, client, request_id, node_status(node));
    } else if (operation == "peers") {
        answer(node, client, request_id, node.membership.peers_json());
    } else if (operation == "schedules") {
        answer(node, client, request_id, node.schedules.list());
    } else if (operation == "running") {
        answer(node, client, request_id, node.dispatcher.running_jobs());
    } else if (operation == "reload") {
        if (auto reloaded = node.reload(); !reloaded) {
            refuse(node, client, request_id, reloaded.error());
        } else {
            answer(node, client, request_id, {{"reloaded", true}});
        }
    } else if (operation == "job") {
        auto job = node.dispatcher.find(id);
        if (!job) {
            refuse(node, client, request_id, job.error());
        } else {
            node.dispatcher.reply_job(client, request_id, *job);
        }
    } else if (operation == "trace-on" || operation == "trace-off") {
        node.publisher.set_tapping(operation == "trace-on");
        answer(node, client, request_id, {{"trace", node.publisher.tapping()}});
    } else if (operation == "history") {
        node.dispatcher.reply(client, Command::control_reply,
                              control_reply_body(request_id, node.publisher.history(id)));
    } else if (operation == "watch") {
        // The STATE goes out when the job ends; only an unknown id is answered here.
        if (!node.dispatcher.watch(client, id)) refuse(node, client, request_id, "no job " + id);
    } else {
        refuse(node, client, request_id,
               "unknown operation '" + std::string(operation) +
                   "' (status, running, peers, reload, job, watch, trace-on, trace-off, history, schedules)");
    }
}

}  // namespace zq::node
