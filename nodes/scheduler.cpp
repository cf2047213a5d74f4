#include "scheduler.hpp"

#include "invariant.hpp"

#include <zq/time_text.hpp>

#include <algorithm>

namespace zq::node {
namespace {

// Floor division for times before the epoch too.
std::int64_t floor_div(std::int64_t value, std::int64_t divisor) {
    std::int64_t quotient = value / divisor;
    return (value % divisor != 0 && (value < 0) != (divisor < 0)) ? quotient - 1 : quotient;
}

// How far back latest_tick_between looks for a cron tick at a time, widening until it finds
// one: a few steps of next_cron_tick for a schedule of any frequency, not one per tick of a
// long downtime.
constexpr std::int64_t kCronLookBackMs[] = {
    2LL * 60 * 1000,                 // every minute or so
    2LL * 3600 * 1000,               // hourly
    2LL * 24 * 3600 * 1000,          // daily
    62LL * 24 * 3600 * 1000,         // monthly
    800LL * 24 * 3600 * 1000,        // yearly
    401LL * 366 * 24 * 3600 * 1000,  // the whole 400-year cycle next_cron_tick searches
};

}  // namespace

std::optional<std::int64_t> next_tick_after(const ScheduleSettings& schedule, std::int64_t after_ms) {
    if (schedule.every) {
        std::int64_t interval = schedule.every->interval_ms;
        return (floor_div(after_ms, interval) + 1) * interval;
    }
    return next_cron_tick(*schedule.cron, after_ms, schedule.time_zone);
}

std::optional<std::int64_t> latest_tick_between(const ScheduleSettings& schedule, std::int64_t after_ms,
                                                std::int64_t until_ms) {
    if (until_ms <= after_ms) return std::nullopt;
    if (schedule.every) {
        std::int64_t interval = schedule.every->interval_ms;
        std::int64_t latest = floor_div(until_ms, interval) * interval;
        if (latest <= after_ms) return std::nullopt;
        return latest;
    }
    for (std::int64_t look_back : kCronLookBackMs) {
        std::int64_t from = std::max(after_ms, until_ms - look_back);
        std::optional<std::int64_t> latest;
        for (auto tick = next_tick_after(schedule, from); tick && *tick <= until_ms;
             tick = next_tick_after(schedule, *tick)) {
            latest = tick;
        }
        if (latest || from == after_ms) return latest;
    }
    return std::nullopt;
}

std::string format_tick_time(std::int64_t tick_ms) {
    std::string text = format_rfc3339(tick_ms);
    // "...:00.000Z" → "...:00Z": ticks are usually whole seconds, and read better so.
    if (tick_ms % 1000 == 0 && text.size() > 5) text.replace(text.size() - 5, 4, "");
    return text;
}

std::string tick_job_id(const ScheduleSettings& schedule, std::int64_t tick_ms, const std::string& node_name) {
    std::string id = "sched:" + schedule.name + ":" + format_tick_time(tick_ms);
    if (schedule.scope == ScheduleScope::node) id += ":" + node_name;
    return id;
}

Scheduler::Started Scheduler::start(const Schedules& schedules, const std::vector<ScheduleMark>& marks,
                                    std::int64_t now_ms) {
    Started started;
    entries_.clear();
    due_.clear();
    unconfirmed_.clear();
    for (const auto& [name, settings] : schedules) entries_[name].settings = settings;
    for (const ScheduleMark& mark : marks) {
        auto entry = entries_.find(mark.name);
        if (entry == entries_.end()) {
            started.forgotten.push_back(mark.name);
            continue;
        }
        entry->second.last_tick_ms = mark.last_tick_ms;
        entry->second.last_job_id = mark.last_job_id;
    }
    for (auto& [name, entry] : entries_) {
        // A schedule this node never fired has missed nothing: it starts with the next tick.
        std::int64_t after = now_ms;
        if (entry.last_tick_ms) {
            after = std::max(now_ms, *entry.last_tick_ms);
            if (entry.settings.missed == MissedTicks::run_once) {
                if (auto missed = latest_tick_between(entry.settings, *entry.last_tick_ms, now_ms)) {
                    started.catch_up.push_back(fire(entry, *missed));
                }
            }
        }
        set_next(entry, next_tick_after(entry.settings, after));
    }
    return started;
}

Scheduler::Changes Scheduler::reconfigure(const Schedules& schedules, std::int64_t now_ms) {
    Changes changes;
    for (const auto& [name, entry] : entries_) {
        if (!schedules.contains(name)) changes.removed.push_back(name);
    }
    for (const std::string& name : changes.removed) remove(name);
    for (const auto& [name, settings] : schedules) {
        auto found = entries_.find(name);
        if (found != entries_.end() && found->second.settings.same_as(settings)) continue;
        bool added = found == entries_.end();
        Entry& entry = entries_[name];
        entry.settings = settings;
        std::int64_t after = std::max(now_ms, entry.last_tick_ms.value_or(now_ms));
        set_next(entry, next_tick_after(entry.settings, after));
        (added ? changes.added : changes.changed).push_back(name);
    }
    return changes;
}

std::optional<std::int64_t> Scheduler::next_due() const {
    if (due_.empty()) return std::nullopt;
    return due_.begin()->first;
}

std::vector<TickFiring> Scheduler::take_due(std::int64_t now_ms) {
    std::vector<TickFiring> firings;
    while (!due_.empty() && due_.begin()->first <= now_ms) {
        auto [next_tick, name] = *due_.begin();
        auto found = entries_.find(name);
        ZQ_ASSERT(found != entries_.end(), "a schedule on the due index is held");
        Entry& entry = found->second;
        // The latest tick at or before now: a timer that fired late fires once, not once per
        // tick it passed over.
        std::int64_t tick = latest_tick_between(entry.settings, next_tick - 1, now_ms).value_or(next_tick);
        firings.push_back(fire(entry, tick));
        set_next(entry, next_tick_after(entry.settings, std::max(tick, now_ms)));
    }
    return firings;
}

void Scheduler::committed() { unconfirmed_.clear(); }

void Scheduler::commit_failed() {
    // Latest first, so that a schedule fired twice since the last commit gets its oldest mark.
    for (auto each = unconfirmed_.rbegin(); each != unconfirmed_.rend(); ++each) {
        auto found = entries_.find(each->schedule);
        if (found == entries_.end()) continue;  // removed by a reload meanwhile
        Entry& entry = found->second;
        entry.last_tick_ms = each->previous_tick_ms;
        entry.last_job_id = each->previous_job_id;
        if (!entry.next_tick_ms || each->tick_ms < *entry.next_tick_ms) set_next(entry, each->tick_ms);
    }
    unconfirmed_.clear();
}

std::vector<Scheduler::View> Scheduler::list() const {
    std::vector<View> views;
    views.reserve(entries_.size());
    for (const auto& [name, entry] : entries_) {
        views.push_back({&entry.settings, entry.next_tick_ms, entry.last_tick_ms, entry.last_job_id});
    }
    return views;
}

void Scheduler::set_next(Entry& entry, std::optional<std::int64_t> next_tick_ms) {
    if (entry.next_tick_ms) due_.erase({*entry.next_tick_ms, entry.settings.name});
    entry.next_tick_ms = next_tick_ms;
    if (next_tick_ms) due_.emplace(*next_tick_ms, entry.settings.name);
}

void Scheduler::remove(const std::string& name) {
    auto found = entries_.find(name);
    if (found == entries_.end()) return;
    set_next(found->second, std::nullopt);
    entries_.erase(found);
}

TickFiring Scheduler::fire(Entry& entry, std::int64_t tick_ms) {
    const ScheduleSettings& settings = entry.settings;
    unconfirmed_.push_back({settings.name, tick_ms, entry.last_tick_ms, entry.last_job_id});
    Task task(settings.task);
    task.id = tick_job_id(settings, tick_ms, node_name_);
    task.args = settings.args;
    task.kwargs = settings.kwargs;
    task.queue = settings.queue;
    // A node-scoped tick is this node's own: it runs here.
    task.target = settings.scope == ScheduleScope::node ? node_name_ : settings.target;
    entry.last_tick_ms = tick_ms;
    entry.last_job_id = task.id;
    return {settings.name, tick_ms, std::move(task)};
}

}  // namespace zq::node
