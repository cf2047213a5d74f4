// The schedule runner: drives the scheduler (scheduler.hpp) on the node's loop.
//
// One uv timer for all schedules, armed for the earliest next tick (never more than a minute
// ahead, so that a wall clock set forward or back is noticed). When it fires, each due tick's
// job goes through the dispatcher's submit path (submit_internal) and the schedule's mark is
// journaled beside it, both in the turn's transaction. The dispatcher says after the commit
// whether it held; if not, the scheduler takes the ticks back and they fire again a second
// later, when the journal may take them.
#pragma once

#include "config.hpp"
#include "dispatcher.hpp"
#include "event_loop.hpp"
#include "journal.hpp"
#include "scheduler.hpp"

#include <nlohmann/json.hpp>

#include <zq/result.hpp>

#include <uv.h>

namespace zq::node {

class ScheduleRunner {
public:
    ScheduleRunner(uv_loop_t* loop, const Config& config, Journal& journal, Dispatcher& dispatcher);

    // Reads the marks, fires the ticks missed while the node was down (per `missed`), drops
    // the marks of schedules no longer configured, and arms the timer. Call after the
    // dispatcher's first turn: the submissions are committed by the next one.
    Status start();
    // `zq-node reload`: the [schedules.*] tables as the config file now has them.
    void reload(const Schedules& schedules);
    // A node shutting down fires nothing more; the other nodes fire its cluster ticks.
    void stop();
    // After each commit of a turn: whether the ticks fired in it are journaled.
    void on_commit(bool committed);

    // `zq-node schedules`: each schedule by name, with its timing, next and last tick, and
    // the last job's id, state and node.
    nlohmann::json list();

private:
    void fire_due();
    void fire(std::vector<TickFiring> firings);
    // Arms the timer for the earliest next tick, at least `min_wait_ms` from now.
    void arm(std::int64_t min_wait_ms = 0);

    uv_loop_t* loop_;
    const Config& config_;
    Journal& journal_;
    Dispatcher& dispatcher_;
    Scheduler scheduler_;
    Timer timer_;
    bool stopped_ = false;
    bool fired_this_turn_ = false;
};

}  // namespace zq::node
