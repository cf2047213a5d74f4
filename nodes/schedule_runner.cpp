#include "schedule_runner.hpp"

#include "clock.hpp"

#include <zq/time_text.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>

namespace zq::node {
namespace {

// The longest the timer waits before it looks at the wall clock again: a clock set forward or
// back moves the ticks, and the monotonic timer would not notice.
constexpr std::int64_t kMaxTimerWaitMs = 60'000;
// How long after a failed commit the ticks it lost are fired again.
constexpr std::int64_t kRetryAfterFailedCommitMs = 1'000;

nlohmann::json time_or_null(const std::optional<std::int64_t>& unix_ms) {
    if (!unix_ms) return nullptr;
    return format_rfc3339(*unix_ms);
}

}  // namespace

ScheduleRunner::ScheduleRunner(uv_loop_t* loop, const Config& config, Journal& journal, Dispatcher& dispatcher)
    : loop_(loop), config_(config), journal_(journal), dispatcher_(dispatcher), scheduler_(config.name),
      timer_(loop, [this] { fire_due(); }) {}

Status ScheduleRunner::start() {
    auto marks = journal_.schedule_marks();
    if (!marks) return Error{marks.error()};
    auto started = scheduler_.start(config_.schedules, *marks, wall_ms());
    for (const std::string& name : started.forgotten) {
        spdlog::info("schedule {} is no longer in the config: its last tick is forgotten", name);
        dispatcher_.note_journal_write(journal_.forget_schedule(name));
    }
    if (!started.catch_up.empty()) {
        spdlog::info("{} schedules fire the latest tick they missed while the node was down (missed = run_once)",
                     started.catch_up.size());
    }
    fire(std::move(started.catch_up));
    if (scheduler_.size() > 0) spdlog::info("{} schedules", scheduler_.size());
    arm();
    return success();
}

void ScheduleRunner::reload(const Schedules& schedules) {
    if (stopped_) return;
    auto changes = scheduler_.reconfigure(schedules, wall_ms());
    for (const std::string& name : changes.removed) dispatcher_.note_journal_write(journal_.forget_schedule(name));
    auto names = [](const std::vector<std::string>& list) {
        std::string text;
        for (const auto& name : list) text += (text.empty() ? "" : ", ") + name;
        return text.empty() ? std::string("none") : text;
    };
    spdlog::info("reload: schedules added: {}; changed: {}; removed: {}", names(changes.added), names(changes.changed),
                 names(changes.removed));
    arm();
}

void ScheduleRunner::stop() {
    stopped_ = true;
    timer_.stop();
}

void ScheduleRunner::on_commit(bool committed) {
    if (!fired_this_turn_) return;
    fired_this_turn_ = false;
    if (committed) {
        scheduler_.committed();
        return;
    }
    spdlog::warn("the ticks fired in this turn were not journaled; they fire again in {} ms",
                 kRetryAfterFailedCommitMs);
    scheduler_.commit_failed();
    arm(kRetryAfterFailedCommitMs);
}

void ScheduleRunner::fire_due() {
    if (stopped_) return;
    fire(scheduler_.take_due(wall_ms()));
    arm();
}

void ScheduleRunner::fire(std::vector<TickFiring> firings) {
    for (TickFiring& firing : firings) {
        std::string id = firing.task.id;
        if (auto submitted = dispatcher_.submit_internal(std::move(firing.task)); !submitted) {
            spdlog::warn("schedule {}: the job of tick {} was not submitted: {}", firing.schedule,
                         format_tick_time(firing.tick_ms), submitted.error());
        }
        dispatcher_.note_journal_write(journal_.record_schedule_tick(firing.schedule, firing.tick_ms, id));
        fired_this_turn_ = true;
    }
}

void ScheduleRunner::arm(std::int64_t min_wait_ms) {
    if (stopped_) return;
    auto next = scheduler_.next_due();
    if (!next) {
        timer_.stop();
        return;
    }
    // The timer counts from the loop's idea of now, which is as old as this loop turn.
    uv_update_time(loop_);
    std::int64_t wait =
        std::clamp<std::int64_t>(*next - wall_ms(), min_wait_ms, std::max(min_wait_ms, kMaxTimerWaitMs));
    timer_.start(static_cast<double>(wait) / 1000.0);
}

nlohmann::json ScheduleRunner::list() {
    nlohmann::json schedules = nlohmann::json::array();
    for (const Scheduler::View& view : scheduler_.list()) {
        const ScheduleSettings& settings = *view.settings;
        // The last job as this node knows it; a copy that lost its claim to another node is
        // gone from here, and the claims table names the node that holds the job.
        nlohmann::json state = nullptr, holder = nullptr;
        if (!view.last_job_id.empty()) {
            if (auto job = dispatcher_.find(view.last_job_id)) {
                state = std::string(to_string(job->state));
                if (!job->node.empty()) holder = job->node;
            } else if (auto claim = journal_.find_claim(view.last_job_id); claim && *claim) {
                holder = **claim;
            }
        }
        nlohmann::json entry = {
            {"name", settings.name},
            {"task", settings.task},
            {"queue", settings.queue},
            {"target", settings.target.empty() ? nlohmann::json(nullptr) : nlohmann::json(settings.target)},
            {"scope", std::string(to_string(settings.scope))},
            {"missed", std::string(to_string(settings.missed))},
            {"every", settings.every ? nlohmann::json(settings.every_text) : nlohmann::json(nullptr)},
            {"cron", settings.cron ? nlohmann::json(settings.cron_text) : nlohmann::json(nullptr)},
            {"timezone", settings.time_zone_name},
            {"next_tick", time_or_null(view.next_tick_ms)},
            {"last_tick", time_or_null(view.last_tick_ms)},
            {"last_job_id", view.last_job_id.empty() ? nlohmann::json(nullptr) : nlohmann::json(view.last_job_id)},
            {"last_job_state", state},
            {"last_job_node", holder},
        };
        schedules.push_back(std::move(entry));
    }
    return schedules;
}

}  // namespace zq::node
