// What the soak checks at its end, apart from the processes that run it: from two reads of
// every accepted job at its origin and the record of every run, how many jobs were lost,
// stuck, changed their terminal state, ran twice, or succeeded without having run.
#pragma once

#include <zq/job.hpp>

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace zq::chaos {

// A job as its origin reported it; nullopt state: the origin did not know the id.
struct JobRead {
    std::optional<JobState> state;
    bool answered = true;  // false: the origin did not answer at all
};
using Reads = std::map<std::string, JobRead>;  // by job id

// Job ids, one per line, appended by each run of the soak's task (one file per node): how
// many runs each id had, over all the files.
std::map<std::string, std::size_t> count_runs(const std::vector<std::string>& files);

struct Verdict {
    std::size_t lost = 0;     // accepted, and then unknown at its origin
    std::size_t stuck = 0;    // not terminal when the soak gave up waiting (or no answer)
    std::size_t changed = 0;  // terminal in the first read, something else in the second
    std::size_t doubled = 0;  // ran more than once
    std::size_t unrun = 0;    // succeeded without a recorded run
    std::map<std::string, std::size_t> states;  // terminal states of the first read, counted
    std::vector<std::string> examples;           // a few ids with what was wrong, for the log

    bool passed() const { return lost + stuck + changed + doubled + unrun == 0; }
};

// `ids` are the accepted jobs; `first` and `second` their two reads; `runs` from count_runs().
Verdict judge(const std::vector<std::string>& ids, const Reads& first, const Reads& second,
              const std::map<std::string, std::size_t>& runs);

}  // namespace zq::chaos
