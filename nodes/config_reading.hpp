// How the config's sections are read from TOML: shared by config.cpp and the readers of the
// sections that have a file of their own (schedule_config.cpp). Internal to the node's config.
#pragma once

#include "schedule_config.hpp"

#include <zq/result.hpp>

#include <toml++/toml.h>

#include <functional>
#include <span>
#include <string>
#include <string_view>

namespace zq::node {

// Calls `read(name, section, key)` for each [KIND.NAME] table, after checking that it holds
// only `allowed` keys; `key` is "KIND.NAME", for messages. A mistyped key, or a dotted name left
// unquoted ([tasks.report.disk] is a table "disk" inside "report"), must not pass as a section
// without settings.
Status for_each_section(const toml::table& root, std::string_view kind, std::span<const std::string_view> allowed,
                        const std::function<Status(std::string, const toml::table&, const std::string&)>& read);

// Reads every [schedules.NAME] table of `root` into `schedules` (schedule_config.cpp).
Status read_schedules(const toml::table& root, Schedules& schedules);

}  // namespace zq::node
