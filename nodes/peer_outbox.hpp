// The peer outbox: store and forward between an origin and the owners of its jobs.
//
// A peer link may drop a message, and either node may restart, so what must arrive is kept
// here and sent again until the other side answers:
//   at the origin, a FORWARD until the owner answers TAKEN (or reports a state), and a
//   CANCEL until the job ends here;
//   at the owner, a job's terminal STATE until the origin answers STATE-ACK (the journal
//   keeps it across restarts too, and it is loaded back at start-up).
// The outbox holds each message's bytes and decides what is due; the dispatcher sends what
// it returns with its turn, after the commit.
#pragma once

#include "outgoing.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace zq::node {

class PeerOutbox {
public:
    using Alive = std::function<bool(std::string_view node)>;

    // Origin: `forward` (a FORWARD) was sent at `now_ms`; kept until the owner takes it.
    void forwarded(const std::string& id, PeerMessage forward, std::int64_t now_ms);
    // The owner has the job (TAKEN, or a report that implies it): true when it was still
    // waiting for that, false when it was taken already or never forwarded.
    bool taken(std::string_view id);
    bool awaiting_taken(std::string_view id) const;
    // Origin: `cancel` (a CANCEL) was sent; sent again until the job ends here.
    void cancel_sent(const std::string& id, PeerMessage cancel);
    // Origin: the job ended or was forgotten; nothing more is sent about it.
    void forget(std::string_view id);

    // Owner: `report` (a terminal STATE) goes to the origin until it is acknowledged.
    void reported(const std::string& id, PeerMessage report);
    const PeerMessage* report(std::string_view id) const;
    // The origin acknowledged the report; false when none was waiting.
    bool acknowledged(std::string_view id);

    // Origin: whether a FORWARD or CANCEL of the job is kept (none is, once it is forgotten).
    bool tracks(std::string_view id) const;
    std::size_t unacknowledged() const { return reports_.size(); }

    // What is due again at `now_ms`, to peers that are alive: FORWARDs sent at least
    // `forward_interval_ms` ago (stamped as sent now), every CANCEL and every report.
    std::vector<PeerMessage> due(std::int64_t now_ms, std::int64_t forward_interval_ms, const Alive& alive);

private:
    struct Forward {
        PeerMessage message;
        std::int64_t sent_ms = 0;
    };
    // By job id: the order in which they are sent again.
    std::map<std::string, Forward, std::less<>> forwards_;
    std::map<std::string, PeerMessage, std::less<>> cancels_;
    std::map<std::string, PeerMessage, std::less<>> reports_;
};

}  // namespace zq::node
