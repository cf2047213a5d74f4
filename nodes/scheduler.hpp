// The scheduler: the schedules this node runs ([schedules.NAME] in the config), when each one
// ticks next, and the tick it fired last.
//
// A tick is an instant the schedule's timing names: a multiple of the interval since the
// epoch for `every`, a match of the cron expression in its time zone for `cron`. Every node
// computes the same instants, and a tick's job id is made from the schedule and the tick
// (sched:NAME:2026-11-29T22:40:00Z, and :NODE after it for scope "node"), so nodes that fire
// the same tick submit the same id and the cluster-wide idempotent ids run it once.
//
// The part is pure, like the timetables: it keeps no timer, no journal and no clock. Its
// driver (schedule_runner.hpp) arms one timer for next_due(), takes the due ticks, submits
// their jobs and journals each schedule's mark in the same turn; start() gets the marks back
// after a restart, so the node neither repeats a tick nor loses one it was due to fire:
//   - a tick that passed while the node was down is *missed*: `missed = "skip"` fires none of
//     them, "run_once" fires the latest one (with the same id as every other node's, so if
//     another node fired it, that submission is the one that counts);
//   - while the node runs, a schedule whose timer fires late fires its latest due tick; the
//     earlier ones it passed over are never fired (one late burst, not one job per interval).
#pragma once

#include "journal.hpp"
#include "schedule_config.hpp"

#include <zq/task.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace zq::node {

// The first tick strictly after `after_ms` (unix ms); none when the timing never fires again.
std::optional<std::int64_t> next_tick_after(const ScheduleSettings& schedule, std::int64_t after_ms);
// The latest tick in (after_ms, until_ms]; none when no tick falls there.
std::optional<std::int64_t> latest_tick_between(const ScheduleSettings& schedule, std::int64_t after_ms,
                                                std::int64_t until_ms);
// "2026-11-29T22:40:00Z", with milliseconds only when the tick has them (every = "500ms").
std::string format_tick_time(std::int64_t tick_ms);
// The job id of one tick: sched:NAME:TIME for scope "cluster", sched:NAME:TIME:NODE for "node".
std::string tick_job_id(const ScheduleSettings& schedule, std::int64_t tick_ms, const std::string& node_name);

// One tick to fire: the job to submit for it.
struct TickFiring {
    std::string schedule;
    std::int64_t tick_ms = 0;
    Task task;
};

class Scheduler {
public:
    explicit Scheduler(std::string node_name) : node_name_(std::move(node_name)) {}

    // At start-up: the configured schedules and the marks the journal kept. `catch_up` holds
    // the missed ticks to fire now (run_once: the latest tick after the mark, if any);
    // `forgotten` the marks of schedules no longer configured, which the journal can drop.
    struct Started {
        std::vector<TickFiring> catch_up;
        std::vector<std::string> forgotten;
    };
    Started start(const Schedules& schedules, const std::vector<ScheduleMark>& marks, std::int64_t now_ms);

    // A reload: added schedules start ticking from now, removed ones stop, and changed ones
    // compute their next tick again, after now and after the tick they fired last (a tick is
    // never fired twice). Nothing missed is caught up.
    struct Changes {
        std::vector<std::string> added, changed, removed;
    };
    Changes reconfigure(const Schedules& schedules, std::int64_t now_ms);

    // The earliest next tick of any schedule; none when no schedule will tick again.
    std::optional<std::int64_t> next_due() const;
    // The ticks due at `now_ms`: for each schedule due, its latest tick at or before now. Each
    // becomes the schedule's last tick, and its next tick the first after now.
    std::vector<TickFiring> take_due(std::int64_t now_ms);

    // The turn that journaled the ticks fired since the last call committed: they are final.
    void committed();
    // Its commit failed: the journal has neither the jobs nor the marks. Each schedule gets its
    // mark back and is due again at the tick it fired, so the next take_due fires it again.
    void commit_failed();

    // One schedule as `zq-node schedules` shows it.
    struct View {
        const ScheduleSettings* settings = nullptr;
        std::optional<std::int64_t> next_tick_ms;
        std::optional<std::int64_t> last_tick_ms;  // none: never fired on this node
        std::string last_job_id;
    };
    // Every schedule, by name.
    std::vector<View> list() const;
    std::size_t size() const { return entries_.size(); }

private:
    struct Entry {
        ScheduleSettings settings;
        std::optional<std::int64_t> next_tick_ms;
        std::optional<std::int64_t> last_tick_ms;
        std::string last_job_id;
    };
    // A tick fired and not yet committed, with the mark it replaced.
    struct Unconfirmed {
        std::string schedule;
        std::int64_t tick_ms = 0;
        std::optional<std::int64_t> previous_tick_ms;
        std::string previous_job_id;
    };

    void set_next(Entry& entry, std::optional<std::int64_t> next_tick_ms);
    void remove(const std::string& name);
    TickFiring fire(Entry& entry, std::int64_t tick_ms);

    std::string node_name_;
    std::map<std::string, Entry, std::less<>> entries_;
    // (next tick, name) of every schedule that will tick again: the earliest is first.
    std::set<std::pair<std::int64_t, std::string>> due_;
    std::vector<Unconfirmed> unconfirmed_;
};

}  // namespace zq::node
