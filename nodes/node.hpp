// A zq-node: the loop and the parts on it (journal, client port, dispatcher, pool, schedules,
// control).
//
// One thread. Each turn of the libuv loop handles whatever arrived (client messages, worker
// frames, timers), then the check phase ends the turn: the dispatcher starts what can start,
// commits the journal once for everything the turn changed, and sends the replies.
#pragma once

#include "config.hpp"
#include "control.hpp"
#include "dispatcher.hpp"
#include "event_loop.hpp"
#include "journal.hpp"
#include "membership.hpp"
#include "pool.hpp"
#include "router_port.hpp"
#include "publisher.hpp"
#include "schedule_runner.hpp"
#include "subscriber.hpp"

#include <uv.h>
#include <zmq.hpp>

#include <memory>
#include <string>

namespace zq::node {

class Node {
public:
    explicit Node(Config config);
    ~Node();
    Node(const Node&) = delete;
    Node& operator=(const Node&) = delete;

    // Takes the data directory, opens the journal, recovers, binds, starts the workers.
    Status start();
    // Runs until a graceful shutdown (SIGTERM, SIGINT) completes. Returns the exit code.
    int run();

private:
    Status lock_data_dir();
    // What arrives on the client port: client commands; a peer command is refused and counted
    // (command_roles.hpp).
    void on_client_message(const std::string& client, const Message& message);
    // What arrives on the peer port: peer commands; a client command is refused and counted.
    void on_peer_port_message(const std::string& sender, const Message& message);
    // FORWARD, TAKEN, STATE, STATE-ACK, CLAIM, CLAIMED, KEY-*, REPAIR, GONE or a peer's CANCEL
    // from a known peer.
    void on_peer_message(const Message& message);
    // Mirrors a received message to the protocol tap, when it is on.
    void tap_received(const std::string& sender, const Message& message);
    // A peer's BROADCAST over the link (repaired or resent).
    void on_peer_broadcast(const Message& message);
    // REPAIR from a subscriber: the kept broadcasts of the range, and GONE for the rest.
    void repair(const Message& message);
    void reject(const std::string& client, const std::string& reason, std::string_view id = {});
    void begin_shutdown(const char* why);
    void finish_shutdown();
    Status reload();
    void purge_old_results();

    Config config_;
    std::string incarnation_;
    uv_loop_t loop_{};
    zmq::context_t context_;
    int lock_fd_ = -1;
    std::unique_ptr<Journal> journal_;
    std::unique_ptr<RouterPort> port_;       // the client port
    std::unique_ptr<RouterPort> peer_port_;  // the peer port
    std::unique_ptr<Publisher> publisher_;
    std::unique_ptr<Subscriber> subscriber_;
    std::unique_ptr<Pool> pool_;
    std::unique_ptr<Dispatcher> dispatcher_;
    std::unique_ptr<Membership> membership_;
    std::unique_ptr<ScheduleRunner> schedules_;
    std::unique_ptr<ControlContext> control_;
    UvHandle<uv_check_t> end_of_turn_;
    UvHandle<uv_prepare_t> before_sleep_;
    UvHandle<uv_signal_t> sigterm_;
    UvHandle<uv_signal_t> sigint_;
    UvHandle<uv_signal_t> sighup_;
    std::unique_ptr<Timer> purge_timer_;
    std::unique_ptr<Timer> shutdown_timer_;
    std::unique_ptr<Timer> drain_check_;
    bool shutting_down_ = false;
    bool shutdown_finished_ = false;
    int exit_code_ = 0;
};

}  // namespace zq::node
