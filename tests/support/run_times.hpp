// Runs that record their own start and end: a config for an exec task `rec` that appends
// "LABEL s NANOS" and "LABEL e NANOS" (date +%s%N) around a sleep to a shared file, and a
// reader of that file. Tests of keys and limits check from these times what ran at once.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace zq::test {

// [tasks.rec]: args KEY-OR-LABEL SECONDS; appends to `file`.
std::string recording_task_config(const std::string& file);

struct RunTimes {
    std::int64_t start_ns = 0;
    std::int64_t end_ns = 0;
};

// Each label's run (the last one recorded, labels are unique in the tests).
std::map<std::string, RunTimes> read_run_times(const std::string& file);

// The most runs of `runs` that were in progress at one instant.
std::size_t most_at_once(const std::vector<RunTimes>& runs);

}  // namespace zq::test
