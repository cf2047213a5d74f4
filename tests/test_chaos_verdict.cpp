// The chaos soak's checks (tools/zq-chaos/verdict.hpp), without a cluster: each kind of fault
// it reports is found, and a clean run passes.
#include "verdict.hpp"

#include "support/node_process.hpp"

#include <catch2/catch.hpp>

#include <fstream>

using namespace zq::chaos;
using zq::JobState;

namespace {

Reads terminal(std::initializer_list<std::pair<std::string, JobState>> jobs) {
    Reads reads;
    for (const auto& [id, state] : jobs) reads[id] = {state, true};
    return reads;
}

}  // namespace

TEST_CASE("jobs that each ended once, the same in both reads, and ran at most once pass") {
    const Reads reads = terminal({{"j1", JobState::succeeded}, {"j2", JobState::error}, {"j3", JobState::failed}});
    const Verdict verdict = judge({"j1", "j2", "j3"}, reads, reads, {{"j1", 1}, {"j3", 1}});
    CHECK(verdict.passed());
    CHECK(verdict.states.at("succeeded") == 1);
    CHECK(verdict.states.at("error") == 1);
}

TEST_CASE("the soak's verdict counts lost, stuck, changed, doubled and unrun jobs") {
    Reads first = terminal({{"done", JobState::succeeded}, {"flipped", JobState::failed}, {"twice", JobState::succeeded},
                            {"phantom", JobState::succeeded}});
    first["gone"] = {std::nullopt, true};          // the origin does not know it
    first["late"] = {JobState::running, true};     // still running when the soak gave up
    first["silent"] = {std::nullopt, false};       // the origin never answered
    Reads second = first;
    second["flipped"] = {JobState::succeeded, true};
    const Verdict verdict = judge({"done", "flipped", "twice", "phantom", "gone", "late", "silent"}, first, second,
                                  {{"done", 1}, {"flipped", 1}, {"twice", 2}});
    CHECK(verdict.lost == 1);
    CHECK(verdict.stuck == 2);
    CHECK(verdict.changed == 1);
    CHECK(verdict.doubled == 1);
    CHECK(verdict.unrun == 1);
    CHECK_FALSE(verdict.passed());
    CHECK(verdict.examples.size() == 6);
}

TEST_CASE("runs are counted per job id over every node's file") {
    zq::test::TempDir dir;
    std::ofstream(dir.path() + "/runs-a") << "j1\nj2\n";
    std::ofstream(dir.path() + "/runs-b") << "j2\n\nj3\n";
    const auto runs = count_runs({dir.path() + "/runs-a", dir.path() + "/runs-b", dir.path() + "/runs-missing"});
    CHECK(runs.size() == 3);
    CHECK(runs.at("j1") == 1);
    CHECK(runs.at("j2") == 2);
    CHECK(runs.at("j3") == 1);
}
