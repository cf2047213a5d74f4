#include "verdict.hpp"

#include <fstream>

namespace zq::chaos {
namespace {

constexpr std::size_t kExamples = 8;

std::string state_text(const JobRead& read) {
    if (!read.answered) return "no answer";
    if (!read.state) return "unknown";
    return std::string(to_string(*read.state));
}

}  // namespace

std::map<std::string, std::size_t> count_runs(const std::vector<std::string>& files) {
    std::map<std::string, std::size_t> runs;
    for (const auto& path : files) {
        std::ifstream file(path);
        for (std::string line; std::getline(file, line);) {
            if (!line.empty()) ++runs[line];
        }
    }
    return runs;
}

Verdict judge(const std::vector<std::string>& ids, const Reads& first, const Reads& second,
              const std::map<std::string, std::size_t>& runs) {
    Verdict verdict;
    const auto note = [&](const std::string& id, const std::string& what) {
        if (verdict.examples.size() < kExamples) verdict.examples.push_back(id + ": " + what);
    };
    const JobRead missing{std::nullopt, false};
    for (const auto& id : ids) {
        const auto found = first.find(id);
        const JobRead& read = found == first.end() ? missing : found->second;
        if (read.answered && !read.state) {
            ++verdict.lost;
            note(id, "lost (unknown at its origin)");
            continue;
        }
        if (!read.answered || !is_terminal(*read.state)) {
            ++verdict.stuck;
            note(id, "stuck (" + state_text(read) + ")");
            continue;
        }
        ++verdict.states[std::string(to_string(*read.state))];
        const auto again = second.find(id);
        const JobRead& reread = again == second.end() ? missing : again->second;
        if (reread.state != read.state) {
            ++verdict.changed;
            note(id, "changed from " + state_text(read) + " to " + state_text(reread));
        }
        const auto ran = runs.find(id);
        if (*read.state == JobState::succeeded && ran == runs.end()) {
            ++verdict.unrun;
            note(id, "succeeded without a recorded run");
        }
    }
    for (const auto& [id, count] : runs) {
        if (count > 1) {
            ++verdict.doubled;
            note(id, "ran " + std::to_string(count) + " times");
        }
    }
    return verdict;
}

}  // namespace zq::chaos
