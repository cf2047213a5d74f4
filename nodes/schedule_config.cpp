// Reading [schedules.NAME] tables (schedule_config.hpp).
#include "schedule_config.hpp"

#include "config_reading.hpp"

#include <msgpack.hpp>

#include <chrono>
#include <sstream>

namespace zq::node {
namespace {

constexpr std::string_view kAllowed[] = {"task",  "args", "kwargs",   "queue", "target",
                                         "every", "cron", "timezone", "scope", "missed"};

// A TOML value as msgpack: strings, integers, floats, booleans, arrays and tables as they are;
// dates and times as their TOML text (a task gets a string it can parse).
void pack_toml(msgpack::packer<msgpack::sbuffer>& packer, const toml::node& value) {
    if (auto text = value.as_string()) {
        packer.pack(text->get());
    } else if (auto integer = value.as_integer()) {
        packer.pack(integer->get());
    } else if (auto real = value.as_floating_point()) {
        packer.pack(real->get());
    } else if (auto flag = value.as_boolean()) {
        packer.pack(flag->get());
    } else if (auto array = value.as_array()) {
        packer.pack_array(static_cast<std::uint32_t>(array->size()));
        for (const toml::node& item : *array) pack_toml(packer, item);
    } else if (auto table = value.as_table()) {
        packer.pack_map(static_cast<std::uint32_t>(table->size()));
        for (const auto& [key, item] : *table) {
            packer.pack(std::string(key.str()));
            pack_toml(packer, item);
        }
    } else {
        std::ostringstream written;
        value.visit([&written](const auto& node) { written << node; });
        packer.pack(written.str());
    }
}

std::string packed_toml(const toml::node& value) {
    msgpack::sbuffer buffer;
    msgpack::packer<msgpack::sbuffer> packer(buffer);
    pack_toml(packer, value);
    return std::string(buffer.data(), buffer.size());
}

// Reads a string key; false in `present` when the key is absent.
Status read_text(const toml::table& section, std::string_view key, std::string& out) {
    const toml::node* value = section.get(key);
    if (!value) return success();
    auto text = value->value<std::string>();
    if (!text) return Error{"'" + std::string(key) + "' must be a string"};
    out = *text;
    return success();
}

Status check_name(const std::string& name) {
    if (name.empty()) return Error{"a schedule needs a name"};
    if (name.size() > kMaxScheduleNameBytes) {
        return Error{"the name is longer than " + std::to_string(kMaxScheduleNameBytes) + " bytes"};
    }
    // Tick ids are sched:NAME:TIME[:NODE]: '@' is reserved for broadcast runs (ID@NODE), and
    // ':' would let two schedules' ids meet.
    if (name.find_first_of("@:") != std::string::npos) return Error{"the name may not contain '@' or ':'"};
    return success();
}

Result<ScheduleSettings> read_schedule(std::string name, const toml::table& section) {
    ScheduleSettings settings;
    settings.name = std::move(name);
    if (auto checked = check_name(settings.name); !checked) return checked.failure();

    std::string scope, missed, time_zone;
    Status steps[] = {
        read_text(section, "task", settings.task),
        read_text(section, "queue", settings.queue),
        read_text(section, "target", settings.target),
        read_text(section, "every", settings.every_text),
        read_text(section, "cron", settings.cron_text),
        read_text(section, "timezone", time_zone),
        read_text(section, "scope", scope),
        read_text(section, "missed", missed),
    };
    for (auto& step : steps) {
        if (!step) return step.failure();
    }
    if (settings.task.empty()) return Error{"'task' must name the task to run: task = \"NAME\""};
    if (settings.queue.empty()) return Error{"'queue' must not be empty"};

    if (const toml::node* args = section.get("args")) {
        if (!args->is_array()) return Error{"'args' must be an array: args = [1, \"two\"]"};
        settings.args = packed_toml(*args);
    }
    if (const toml::node* kwargs = section.get("kwargs")) {
        if (!kwargs->is_table()) return Error{"'kwargs' must be a table: kwargs = { key = \"value\" }"};
        settings.kwargs = packed_toml(*kwargs);
    }

    bool has_every = section.contains("every"), has_cron = section.contains("cron");
    if (has_every == has_cron) {
        return Error{"set exactly one of 'every' (every = \"30s\") and 'cron' (cron = \"*/5 * * * *\")"};
    }
    if (has_every) {
        auto every = parse_every(settings.every_text);
        if (!every) return Error{every.error()};
        settings.every = *every;
        // An interval counts real time from the epoch: a time zone would change nothing.
        if (section.contains("timezone")) {
            return Error{"'timezone' applies to 'cron' only ('every' counts real time, whatever the zone)"};
        }
    } else {
        auto cron = parse_cron(settings.cron_text);
        if (!cron) return Error{cron.error()};
        settings.cron = std::move(*cron);
    }
    if (section.contains("timezone")) {
        auto zone = find_time_zone(time_zone);
        if (!zone) return Error{zone.error()};
        settings.time_zone = std::move(*zone);
        settings.time_zone_name = time_zone.empty() ? "UTC" : time_zone;
    }
    if (settings.cron) {
        auto now =
            std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
                .count();
        if (!next_cron_tick(*settings.cron, now, settings.time_zone)) {
            return Error{"cron \"" + settings.cron_text + "\" never fires (no such date?)"};
        }
    }

    if (scope == "node") {
        settings.scope = ScheduleScope::node;
        if (!settings.target.empty()) {
            return Error{"'target' does not go with scope = \"node\" (each node runs its own tick)"};
        }
    } else if (!scope.empty() && scope != "cluster") {
        return Error{"'scope' must be \"cluster\" or \"node\", not \"" + scope + "\""};
    }
    if (missed == "skip") {
        settings.missed = MissedTicks::skip;
    } else if (!missed.empty() && missed != "run_once") {
        return Error{"'missed' must be \"skip\" or \"run_once\", not \"" + missed + "\""};
    }
    return settings;
}

}  // namespace

std::string_view to_string(ScheduleScope scope) { return scope == ScheduleScope::node ? "node" : "cluster"; }

std::string_view to_string(MissedTicks missed) { return missed == MissedTicks::skip ? "skip" : "run_once"; }

bool ScheduleSettings::same_as(const ScheduleSettings& other) const {
    return name == other.name && task == other.task && args == other.args && kwargs == other.kwargs &&
           queue == other.queue && target == other.target && every_text == other.every_text &&
           cron_text == other.cron_text && time_zone_name == other.time_zone_name && scope == other.scope &&
           missed == other.missed;
}

Status read_schedules(const toml::table& root, Schedules& schedules) {
    return for_each_section(root, "schedules", kAllowed,
                            [&](std::string name, const toml::table& section, const std::string& key) {
                                auto settings = read_schedule(name, section);
                                if (!settings) return Status(Error{"[" + key + "]: " + settings.error()});
                                schedules[std::move(name)] = std::move(*settings);
                                return success();
                            });
}

}  // namespace zq::node
