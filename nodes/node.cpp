#include "node.hpp"

#include "clock.hpp"
#include "ipc_access.hpp"
#include "command_roles.hpp"

#include <zq/task.hpp>

#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

namespace zq::node {
namespace {

namespace f = protocol::field;
using protocol::Command;

constexpr double kPurgeInterval = 60.0;
// How often a node shutting down checks whether its running jobs have finished.
constexpr double kDrainCheckInterval = 0.05;
// Seconds workers get to exit after SIGTERM before SIGKILL, once the node is stopping.
constexpr double kWorkerStopGrace = 2.0;

// How the tap names a client: by its routing identity, in hex.
std::string client_name(const std::string& identity) {
    static const char* const kDigits = "0123456789abcdef";
    std::string name = "client:";
    for (unsigned char byte : identity) {
        name += kDigits[byte >> 4];
        name += kDigits[byte & 15];
    }
    return name;
}

// The tap's name for who sent a message: a peer names itself in `node`; anything else is a
// client. (SUBMIT and CONTROL come from clients; a SUBMIT's `node` is not its sender.)
std::string peer_or_client(const std::string& identity, const Message& message) {
    auto node = message.string(protocol::field::node);
    bool from_client = role_of(message) != CommandRole::peer;
    return from_client || !node ? client_name(identity) : std::string(*node);
}

}  // namespace

Node::Node(Config config) : config_(std::move(config)), incarnation_(new_job_id()), context_(1) {
    uv_loop_init(&loop_);
}

Node::~Node() {
    control_.reset();
    schedules_.reset();
    subscriber_.reset();
    membership_.reset();
    dispatcher_.reset();
    pool_.reset();
    if (port_) port_->close();
    port_.reset();
    if (peer_port_) peer_port_->close();
    peer_port_.reset();
    publisher_.reset();
    if (zap_) zap_->close();
    zap_.reset();
    purge_timer_.reset();
    shutdown_timer_.reset();
    drain_check_.reset();
    end_of_turn_.close();
    before_sleep_.close();
    sigterm_.close();
    sigint_.close();
    sighup_.close();
    // Let the closes above run their callbacks before the loop goes.
    uv_run(&loop_, UV_RUN_NOWAIT);
    uv_loop_close(&loop_);
    if (lock_fd_ >= 0) ::close(lock_fd_);
}

Status Node::lock_data_dir() {
    std::error_code error;
    std::filesystem::path data(config_.data_dir);
    if (data.has_parent_path()) std::filesystem::create_directories(data.parent_path(), error);
    // The data directory holds the journal and the client socket: private to its owner.
    if (::mkdir(config_.data_dir.c_str(), 0700) != 0 && errno != EEXIST) {
        return Error{"cannot create data directory " + config_.data_dir + ": " + std::strerror(errno)};
    }
    std::string path = config_.data_dir + "/node.lock";
    lock_fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock_fd_ < 0) return Error{"cannot open " + path + ": " + std::strerror(errno)};
    if (flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
        return Error{"another zq-node is running with data directory " + config_.data_dir +
                     " (stop it, or give this one its own --data)"};
    }
    return success();
}

Status Node::start() {
    // Before anything else: a node whose tcp endpoints would run in the clear while keys are
    // configured does not start at all.
    auto security = Security::load(config_);
    if (!security) return security.failure();
    security_ = std::move(*security);
    if (auto locked = lock_data_dir(); !locked) return locked;
    if (auto opened = open_data_dir_to_group(config_.data_dir, config_.security); !opened) return opened;
    auto journal = Journal::open(config_.data_dir, config_.journal_sync, config_.journal_max_pages);
    if (!journal) return Error{journal.error()};
    journal_ = std::move(*journal);
    journal_->checkpoint_in_background();

    // The ZAP handler first: a CURVE socket bound before it exists would admit any key.
    zap_ = std::make_unique<ZapHandler>(context_, security_);
    if (auto bound = zap_->bind(); !bound) return bound;
    publisher_ = std::make_unique<Publisher>(context_, config_, incarnation_);
    if (auto bound = publisher_->bind(security_); !bound) return bound;
    port_ = std::make_unique<RouterPort>(context_, config_.limits, "client");
    std::vector<std::string> endpoints{config_.local_endpoint()};
    endpoints.insert(endpoints.end(), config_.binds.begin(), config_.binds.end());
    if (auto bound = port_->bind(endpoints, security_, kClientDomain); !bound) return bound;
    // The peer port admits only peer_keys over CURVE; its ipc socket keeps the owner-only mode
    // it is created with, since only nodes of the same user link over ipc.
    peer_port_ = std::make_unique<RouterPort>(context_, config_.limits, "peer");
    std::vector<std::string> peer_endpoints{config_.local_peer_endpoint()};
    peer_endpoints.insert(peer_endpoints.end(), config_.peer_binds.begin(), config_.peer_binds.end());
    if (auto bound = peer_port_->bind(peer_endpoints, security_, kPeerDomain); !bound) return bound;
    for (const std::string& socket : {config_.data_dir + "/node.sock", config_.data_dir + "/pub.sock"}) {
        if (::access(socket.c_str(), F_OK) != 0) continue;  // pub.sock: `publish` may name others
        if (auto restricted = restrict_ipc_socket(socket, config_.security); !restricted) return restricted;
    }

    Pool::Events events{
        [this](std::string_view id, const TaskOutcome& outcome) { dispatcher_->on_task_done(id, outcome); },
        [this](std::string_view id, const std::string& explanation, StopReason reason) {
            dispatcher_->on_worker_lost(id, explanation, reason);
        },
        [this](std::string_view id) { dispatcher_->on_task_returned(id); },
        [this](std::string_view id) { dispatcher_->on_task_started(id); },
    };
    pool_ = std::make_unique<Pool>(&loop_, config_, std::move(events));
    dispatcher_ = std::make_unique<Dispatcher>(
        &loop_, config_, *journal_, *pool_,
        [this](const std::string& client, Command command, std::string_view body) {
            std::uint64_t sent_at = publisher_->tap_clock();
            if (!port_->send(client, command, body)) return false;
            if (sent_at) publisher_->tap(Direction::out, client_name(client), command, body, sent_at);
            return true;
        });
    dispatcher_->set_publisher(*publisher_);
    membership_ = std::make_unique<Membership>(
        &loop_, context_, config_, security_, incarnation_, *publisher_,
        [this] {
            std::size_t busy = pool_->busy();
            // A node that is shutting down takes nothing new, but stays a member until its
            // running jobs are done, so that their origins hear how they ended. It offers its
            // free capacity units while it has a free worker (capacity_gate.hpp).
            bool worker_free = !shutting_down_ && busy < config_.max_workers;
            std::uint64_t free = worker_free ? dispatcher_->capacity().offered_units() : 0;
            return LocalOffer{free, dispatcher_->pending(), config_.capacity};
        },
        Membership::Events{
            [this](const Peer& peer, const std::string& explanation) {
                std::string why = peer.state == PeerState::left
                                      ? "node " + peer.name + " left (" + explanation + ") while the job was there"
                                      : "node " + peer.name + " lost: " + explanation;
                dispatcher_->reap_node(peer.name, why);
                // Its broadcast stream is followed afresh if it comes back (subscriber.hpp).
                subscriber_->forget(peer.name);
            },
            [this](const Peer& peer, const std::string&) {
                dispatcher_->reap_node(
                    peer.name, "node " + peer.name + " restarted (new incarnation) while the job was running there",
                    true);
            },
            [this] { dispatcher_->placement_changed(); },
            [this](const Peer& peer, std::string_view endpoint, std::uint64_t last_broadcast) {
                subscriber_->advertised(peer.name, peer.incarnation, endpoint, peer.key_known ? peer.key : "",
                                        last_broadcast);
            },
            [this](const std::string&) { ++peer_keys_refused_; },
        });
    subscriber_ = std::make_unique<Subscriber>(
        &loop_, context_, config_, security_, *publisher_,
        Subscriber::Events{
            [this](const Message& message) {
                // A node shutting down runs nothing new; the origin counts it as left.
                if (!shutting_down_) dispatcher_->on_broadcast(message);
            },
            [this](std::string_view name, Command command, std::string_view body) {
                return membership_->send_to(name, command, body);
            },
        });
    dispatcher_->set_peer_links(PeerLinks{
        [this] { return membership_->views(); },
        [this](std::string_view name, Command command, std::string_view body) {
            return membership_->send_to(name, command, body);
        },
        [this](std::string_view name) { return membership_->alive(name); },
        [this](std::string_view name, std::uint64_t units) { membership_->take_capacity(name, units); },
        [this] { return membership_->settling(); },
    });
    schedules_ = std::make_unique<ScheduleRunner>(&loop_, config_, *journal_, *dispatcher_);
    dispatcher_->set_commit_listener([this](bool committed) {
        if (schedules_) schedules_->on_commit(committed);
    });
    control_ = std::make_unique<ControlContext>(ControlContext{config_, incarnation_, *dispatcher_, *pool_, *port_,
                                                               *peer_port_, *membership_, *publisher_, *subscriber_, *schedules_,
                                                               [this] { return reload(); },
                                                               [this] { return security_status(); }});

    if (auto recovered = dispatcher_->recover(); !recovered) return recovered;
    dispatcher_->end_turn();
    // After the dispatcher's first turn, which reads the cluster as it is at start (still
    // settling, when peers are configured): the ticks missed while the node was down are then
    // claimed like any submission, and settled once the node knows its cluster.
    if (auto scheduled = schedules_->start(); !scheduled) return scheduled;

    zap_->start(&loop_);
    port_->start(&loop_, [this](const std::string& client, const Message& message, const std::string&) {
        on_client_message(client, message);
    });
    peer_port_->start(&loop_, [this](const std::string& sender, const Message& message, const std::string& user_id) {
        on_peer_port_message(sender, message, user_id);
    });
    pool_->start();
    publisher_->start(&loop_);
    membership_->start();
    subscriber_->start();

    // A turn ends right after the poll phase (replies go out at once), and again before the
    // loop may block, for work that timers or a drain before the poll started: nothing is
    // left uncommitted or unsent while the node sleeps.
    uv_check_init(&loop_, end_of_turn_.get());
    end_of_turn_->data = this;
    uv_check_start(end_of_turn_.get(), [](uv_check_t* handle) {
        static_cast<Node*>(handle->data)->dispatcher_->end_turn();
    });
    uv_prepare_init(&loop_, before_sleep_.get());
    before_sleep_->data = this;
    uv_prepare_start(before_sleep_.get(), [](uv_prepare_t* handle) {
        static_cast<Node*>(handle->data)->dispatcher_->end_turn();
    });

    auto watch_signal = [this](UvHandle<uv_signal_t>& handle, int signal) {
        uv_signal_init(&loop_, handle.get());
        handle->data = this;
        uv_signal_start(
            handle.get(),
            [](uv_signal_t* watched, int number) {
                auto* node = static_cast<Node*>(watched->data);
                if (number == SIGHUP) {
                    if (auto reloaded = node->reload(); !reloaded) spdlog::error("reload: {}", reloaded.error());
                } else {
                    node->begin_shutdown(number == SIGTERM ? "SIGTERM" : "SIGINT");
                }
            },
            signal);
    };
    watch_signal(sigterm_, SIGTERM);
    watch_signal(sigint_, SIGINT);
    watch_signal(sighup_, SIGHUP);

    purge_timer_ = std::make_unique<Timer>(&loop_);
    purge_timer_->start(kPurgeInterval, [this] { purge_old_results(); }, true);

    spdlog::info("node {} (incarnation {}) serving {}, peers at {}, with {} workers, journal {}", config_.name,
                 incarnation_, config_.local_endpoint(), config_.advertise, config_.min_workers, journal_->path());
    return success();
}

int Node::run() {
    uv_run(&loop_, UV_RUN_DEFAULT);
    return exit_code_;
}

void Node::reject(const std::string& client, const std::string& reason, std::string_view id) {
    dispatcher_->reply_rejected(client, id, reason);
}

nlohmann::json Node::security_status() const {
    return {{"curve", security_.curve()},
            {"public_key", security_.curve() ? security_.own().public_key : std::string()},
            {"connections_refused", zap_ ? zap_->refused() : 0},
            {"peer_keys_refused", peer_keys_refused_}};
}

void Node::tap_received(const std::string& sender, const Message& message) {
    if (publisher_->tapping()) {
        publisher_->tap(Direction::in, peer_or_client(sender, message), message.command(), pack(message.body()));
    }
}

void Node::on_client_message(const std::string& client, const Message& message) {
    tap_received(client, message);
    std::string_view command = protocol::command_name(message.command());
    switch (role_of(message)) {
        case CommandRole::peer: {
            // Nothing a client sends may act as a peer (docs/architecture.md, "Peers apart from
            // clients"). A node whose --peer names this client port hears where to link instead.
            BodyWriter body;
            body.add(f::reason, "peer command on the client port: " + std::string(command) +
                                    " is accepted only on the peer port, " + config_.advertise);
            if (message.command() == Command::hello) body.add(f::endpoint, config_.advertise);
            port_->refuse(client, body.finish(), std::string(command) + " on the client port");
            return;
        }
        case CommandRole::neither:
            reject(client, "not a request: " + std::string(command) + " is sent by a node, not to one");
            return;
        case CommandRole::client: break;
    }
    switch (message.command()) {
        case Command::submit:
            if (shutting_down_) {
                reject(client, "node shutting down", message.string(f::id).value_or(""));
                return;
            }
            dispatcher_->submit(client, message);
            return;
        case Command::workflow:
            if (shutting_down_) {
                reject(client, "node shutting down", message.string(f::id).value_or(""));
                return;
            }
            dispatcher_->submit_workflow(client, message);
            return;
        case Command::broadcast:
            if (shutting_down_) {
                reject(client, "node shutting down", message.string(f::id).value_or(""));
                return;
            }
            dispatcher_->broadcast(client, message);
            return;
        case Command::cancel: dispatcher_->cancel(client, message); return;
        case Command::control: handle_control(*control_, client, message); return;
        default: return;
    }
}

void Node::on_peer_port_message(const std::string& sender, const Message& message, const std::string& user_id) {
    tap_received(sender, message);
    std::string_view command = protocol::command_name(message.command());
    if (role_of(message) != CommandRole::peer) {
        // A peer never sends these: whoever did reached the peer port without being a peer.
        // (REJECTED and other replies are not answered, so that two nodes never loop.)
        if (role_of(message) == CommandRole::client) {
            peer_port_->refuse(sender,
                               rejected_body(message.string(f::id).value_or(""),
                                             "client command on the peer port: " + std::string(command) +
                                                 " is accepted only on the client port"),
                               std::string(command) + " on the peer port");
        }
        return;
    }
    switch (message.command()) {
        case Command::hello:
        case Command::welcome:
        case Command::heartbeat:
        case Command::disconnect: membership_->on_message(message, user_id); return;
        default: break;
    }
    // Job and repair messages come from a peer that has introduced itself by name.
    std::string peer(message.string(f::node).value_or(""));
    if (peer.empty() || peer == config_.name || !membership_->knows(peer)) {
        peer_port_->refuse(sender,
                           rejected_body(message.string(f::id).value_or(""),
                                         "unknown peer: " + std::string(command) + " from '" + peer + "', which is not a known peer"),
                           std::string(command) + " from an unknown peer");
        return;
    }
    on_peer_message(message);
}

void Node::on_peer_broadcast(const Message& message) {
    if (shutting_down_) return;  // the origin counts this node as lost or left
    // Numbered: an answer to REPAIR, accounted by the subscriber. Unnumbered: the origin's
    // direct resend to a target that had not taken it.
    if (message.unsigned_integer(f::sequence)) {
        subscriber_->on_repaired(message);
    } else {
        dispatcher_->on_broadcast(message);
    }
}

void Node::on_peer_message(const Message& message) {
    switch (message.command()) {
        case Command::forward:
            // A node shutting down takes no new work; the origin's FORWARD goes unanswered.
            if (!shutting_down_) dispatcher_->on_forward(message);
            return;
        case Command::taken: dispatcher_->on_taken(message); return;
        case Command::state: dispatcher_->on_peer_state(message); return;
        case Command::state_ack: dispatcher_->on_state_ack(message); return;
        // A home answers claims while it shuts down too: its ledger is still right.
        case Command::claim: dispatcher_->on_claim(message); return;
        case Command::claimed: dispatcher_->on_claimed(message); return;
        case Command::key_acquire: dispatcher_->on_key_acquire(message); return;
        case Command::key_answer: dispatcher_->on_key_answer(message); return;
        case Command::key_release: dispatcher_->on_key_release(message); return;
        case Command::repair: repair(message); return;
        case Command::gone: subscriber_->on_gone(message); return;
        case Command::broadcast: on_peer_broadcast(message); return;
        // An origin cancels its job at the owner; the outcome comes back as STATE.
        case Command::cancel: dispatcher_->cancel({}, message); return;
        default: return;
    }
}

void Node::repair(const Message& message) {
    std::string subscriber(*message.string(f::node));
    if (*message.string(f::incarnation) != incarnation_) {
        // Asked about an earlier life of this node: none of it is kept.
        BodyWriter body;
        body.add(f::node, config_.name)
            .add(f::incarnation, *message.string(f::incarnation))
            .add(f::from, *message.unsigned_integer(f::from))
            .add(f::to, *message.unsigned_integer(f::to));
        membership_->send_to(subscriber, Command::gone, body.finish());
        return;
    }
    auto repair = publisher_->repair_range(*message.unsigned_integer(f::from), *message.unsigned_integer(f::to));
    for (auto [from, to] : repair.gone) {
        BodyWriter body;
        body.add(f::node, config_.name).add(f::incarnation, incarnation_).add(f::from, from).add(f::to, to);
        membership_->send_to(subscriber, Command::gone, body.finish());
    }
    for (std::string_view broadcast : repair.bodies) membership_->send_to(subscriber, Command::broadcast, broadcast);
    spdlog::info("repair for {}: {} broadcasts sent again, {} ranges no longer kept", subscriber,
                 repair.bodies.size(), repair.gone.size());
}

Status Node::reload() {
    if (shutting_down_) return Error{"the node is shutting down"};
    if (!config_.config_path.empty()) {
        Config fresh = config_;
        fresh.tasks.clear();
        fresh.schedules.clear();
        if (auto loaded = load_config_file(config_.config_path, fresh); !loaded) return loaded;
        if (auto finished = finish_config(fresh); !finished) return finished;
        // Only the [tasks.NAME] and [schedules.NAME] tables (and the test hook
        // journal_max_pages) change at run time; the rest needs a restart.
        config_.tasks = std::move(fresh.tasks);
        config_.schedules = std::move(fresh.schedules);
        // The test hook that fakes a full disk can end the outage it made.
        if (fresh.journal_max_pages != config_.journal_max_pages) {
            if (auto capped = journal_->set_max_pages(fresh.journal_max_pages); !capped) return capped;
            config_.journal_max_pages = fresh.journal_max_pages;
        }
        schedules_->reload(config_.schedules);
    }
    pool_->recycle_all();
    spdlog::info("reload: {} task settings, every worker recycled after its current task", config_.tasks.size());
    return success();
}

void Node::purge_old_results() {
    // Commit what this turn has done so far (timers ran before this one), so that the purge
    // is a transaction of its own and cannot take the dispatcher's writes with it.
    dispatcher_->end_turn();
    auto before = wall_ms() - static_cast<std::int64_t>(config_.result_ttl * 1000);
    auto purged = journal_->purge_terminal_before(before);
    if (auto committed = journal_->commit(); !purged || !committed) {
        spdlog::warn("journal purge failed: {}", purged ? committed.error() : purged.error());
    } else if (*purged > 0) {
        spdlog::info("journal: purged {} finished jobs older than result_ttl", *purged);
        dispatcher_->recount_states();
    }
}

void Node::begin_shutdown(const char* why) {
    if (shutting_down_) return;
    shutting_down_ = true;
    schedules_->stop();
    spdlog::info("{}: no new jobs; waiting up to {}s for running jobs", why, config_.shutdown_grace);
    pool_->hold_new_work();
    drain_check_ = std::make_unique<Timer>(&loop_);
    drain_check_->start(
        kDrainCheckInterval, [this] {
            if (pool_->busy() == 0) finish_shutdown();
        },
        true);
    shutdown_timer_ = std::make_unique<Timer>(&loop_);
    shutdown_timer_->start(config_.shutdown_grace, [this] { finish_shutdown(); });
}

void Node::finish_shutdown() {
    if (shutdown_finished_) return;
    shutdown_finished_ = true;
    drain_check_->stop();
    shutdown_timer_->stop();
    // No FORWARD in the last turns: the node could not wait for its TAKEN. What is queued
    // stays in the journal for the restart.
    dispatcher_->stop_forwarding();
    dispatcher_->fail_running("node shutting down");
    dispatcher_->end_turn();
    membership_->leave();
    pool_->stop(kWorkerStopGrace, [this] {
        spdlog::info("node {} stopped", config_.name);
        port_->close();
        purge_timer_->stop();
        uv_stop(&loop_);
    });
}

}  // namespace zq::node
