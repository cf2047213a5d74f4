#include "support/run_times.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <utility>

namespace zq::test {

std::string recording_task_config(const std::string& file) {
    return "[tasks.rec]\ncommand = [\"/bin/sh\", \"-c\", \"echo \\\"$1 s $(date +%s%N)\\\" >> " + file +
           "; sleep $2; echo \\\"$1 e $(date +%s%N)\\\" >> " + file + "\", \"rec\"]\n";
}

std::map<std::string, RunTimes> read_run_times(const std::string& file) {
    std::map<std::string, RunTimes> runs;
    std::ifstream in(file);
    for (std::string line; std::getline(in, line);) {
        std::istringstream words(line);
        std::string label, mark;
        std::int64_t nanos = 0;
        if (!(words >> label >> mark >> nanos)) continue;
        (mark == "s" ? runs[label].start_ns : runs[label].end_ns) = nanos;
    }
    return runs;
}

std::size_t most_at_once(const std::vector<RunTimes>& runs) {
    // Ends sort before starts at the same instant: touching runs did not overlap.
    std::vector<std::pair<std::int64_t, int>> edges;
    for (const RunTimes& run : runs) {
        edges.emplace_back(run.start_ns, +1);
        edges.emplace_back(run.end_ns, -1);
    }
    std::sort(edges.begin(), edges.end());
    std::size_t most = 0;
    long now = 0;
    for (const auto& [time, change] : edges) {
        now += change;
        most = std::max<std::size_t>(most, static_cast<std::size_t>(std::max(0L, now)));
    }
    return most;
}

}  // namespace zq::test
