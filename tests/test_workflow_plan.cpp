// The workflow plan and book without processes: flows turned into steps, and what each
// step's end releases, skips or ends.
#include "workflow_book.hpp"
#include "workflow_plan.hpp"

#include <zq/codec.hpp>
#include <zq/json.hpp>

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

using namespace zq::node;
using zq::JobState;
using nlohmann::json;

namespace {

zq::Result<Plan> plan_of(const json& flow) { return plan_workflow(zq::pack_json(flow)); }

json step(const std::string& task, json args = json::array()) { return {{"task", task}, {"args", args}}; }

json as_json(const std::string& packed) { return zq::packed_to_json(packed); }

}  // namespace

TEST_CASE("a chain is a line of steps, each fed by the one before") {
    auto plan = plan_of({{"chain", {step("a", {1}), step("b", {2}), step("c")}}});
    REQUIRE(plan);
    REQUIRE(plan->steps.size() == 3);
    CHECK(plan->steps[0].predecessors.empty());
    CHECK(plan->steps[1].predecessors == std::vector<std::uint32_t>{0});
    CHECK(plan->steps[2].predecessors == std::vector<std::uint32_t>{1});
    CHECK(plan->steps[1].position == "1");
    std::vector<std::string> results = {zq::pack(5), "", ""};
    auto result_of = [&](std::uint32_t i) -> std::string_view { return results[i]; };
    CHECK(as_json(step_args(*plan, 1, result_of)) == json({5, 2}));
}

TEST_CASE("a group inside a chain feeds each member, and the next step gets the list") {
    auto plan = plan_of({{"chain", {step("a"), {{"group", {step("b"), step("c")}}}, step("d")}}});
    REQUIRE(plan);
    REQUIRE(plan->steps.size() == 4);
    CHECK(plan->steps[1].position == "1.0");
    CHECK(plan->steps[2].position == "1.1");
    CHECK(plan->steps[3].predecessors == std::vector<std::uint32_t>{1, 2});
    std::vector<std::string> results = {zq::pack(1), zq::pack("x"), zq::pack("y"), ""};
    auto result_of = [&](std::uint32_t i) -> std::string_view { return results[i]; };
    CHECK(as_json(step_args(*plan, 1, result_of)) == json({1}));
    CHECK(as_json(step_args(*plan, 3, result_of)) == json::array({json::array({"x", "y"})}));
}

TEST_CASE("an immutable step waits for the step before it but takes no result") {
    auto plan = plan_of({{"chain", {step("a"), {{"task", "b"}, {"args", {7}}, {"immutable", true}}}}});
    REQUIRE(plan);
    std::vector<std::string> results = {zq::pack(1), ""};
    auto result_of = [&](std::uint32_t i) -> std::string_view { return results[i]; };
    CHECK(plan->steps[1].predecessors == std::vector<std::uint32_t>{0});
    CHECK(as_json(step_args(*plan, 1, result_of)) == json({7}));
}

TEST_CASE("malformed flows are refused with a reason that says where") {
    auto unknown = plan_of({{"chain", {step("a"), {{"task", "b"}, {"colour", "red"}}}}});
    REQUIRE_FALSE(unknown);
    CHECK_THAT(unknown.error(), Catch::Contains("chain[1]") && Catch::Contains("unknown key 'colour'"));
    auto empty = plan_of({{"group", json::array()}});
    REQUIRE_FALSE(empty);
    CHECK_THAT(empty.error(), Catch::Contains("empty"));
    auto wrong_type = plan_of({{"task", "a"}, {"args", "not a list"}});
    REQUIRE_FALSE(wrong_type);
    CHECK_THAT(wrong_type.error(), Catch::Contains("'args' must be an array"));
    auto no_then = plan_of({{"chord", {{"group", {step("a")}}}}});
    REQUIRE_FALSE(no_then);
    CHECK_THAT(no_then.error(), Catch::Contains("then"));
    json deep = step("leaf");
    for (int i = 0; i < 40; ++i) deep = {{"chain", {deep}}};
    auto too_deep = plan_of(deep);
    REQUIRE_FALSE(too_deep);
    CHECK_THAT(too_deep.error(), Catch::Contains("deeper"));
}

TEST_CASE("step ids are WORKFLOW/INDEX and read back") {
    CHECK(step_id("wf", 3) == "wf/3");
    auto parsed = parse_step_id("wf/12");
    REQUIRE(parsed);
    CHECK(parsed->first == "wf");
    CHECK(parsed->second == 12);
    CHECK_FALSE(parse_step_id("plain-id"));
    CHECK_FALSE(parse_step_id("wf/x"));
}

TEST_CASE("a chord of 10,000 releases its callback once, after the last member, with every result in order") {
    json members = json::array();
    for (int i = 0; i < 10000; ++i) members.push_back(step("m", {i}));
    auto plan = plan_of({{"chord", {{"group", members}, {"then", step("sum")}}}});
    REQUIRE(plan);
    WorkflowBook book;
    auto started = book.start("wf", std::move(*plan));
    REQUIRE(started.release.size() == 10000);
    for (std::uint32_t i = 0; i < 10000; ++i) {
        auto decisions = book.step_ended("wf", i, JobState::succeeded, zq::pack(static_cast<int>(i)), "");
        if (i < 9999) {
            REQUIRE(decisions.release.empty());
            continue;
        }
        REQUIRE(decisions.release.size() == 1);
        CHECK(decisions.release[0].step == 10000);
        json args = as_json(decisions.release[0].args);
        REQUIRE(args[0].size() == 10000);
        CHECK(args[0][0] == 0);
        CHECK(args[0][9999] == 9999);
    }
    auto end = book.step_ended("wf", 10000, JobState::succeeded, zq::pack(42), "");
    REQUIRE(end.end);
    CHECK(end.end->state == JobState::succeeded);
    CHECK(as_json(end.end->result) == 42);
}

TEST_CASE("a failed step skips the rest of its chain, runs its link_error once, and fails the workflow") {
    json failing = {{"task", "b"}, {"link_error", step("on_error")}, {"link", step("on_ok")}};
    auto plan = plan_of({{"chain", {step("a"), failing, step("c"), step("d")}}});
    REQUIRE(plan);
    // a=0, b=1, on_ok=2, on_error=3, c=4, d=5: callbacks follow their step.
    REQUIRE(plan->steps.size() == 6);
    CHECK(plan->steps[2].position == "1.link");
    CHECK(plan->steps[3].position == "1.link_error");
    WorkflowBook book;
    book.start("wf", std::move(*plan));
    auto after_a = book.step_ended("wf", 0, JobState::succeeded, zq::pack(1), "");
    REQUIRE(after_a.release.size() == 1);
    auto after_b = book.step_ended("wf", 1, JobState::failed, "", "boom");
    REQUIRE(after_b.release.size() == 1);
    CHECK(after_b.release[0].step == 3);
    CHECK(as_json(after_b.release[0].args) == json({"wf/1", "boom"}));
    CHECK(after_b.skip.size() == 3);  // on_ok, c, d
    CHECK_FALSE(after_b.end);
    auto after_callback = book.step_ended("wf", 3, JobState::succeeded, "", "");
    REQUIRE(after_callback.end);
    CHECK(after_callback.end->state == JobState::failed);
    CHECK_THAT(after_callback.end->error, Catch::Contains("wf/1") && Catch::Contains("boom"));
    // A second report of the same end changes nothing.
    CHECK(book.step_ended("wf", 1, JobState::failed, "", "boom").release.empty());
}

TEST_CASE("a restore from the journal's rows decides only what the rows lack") {
    auto plan = plan_of({{"chain", {step("a", {1}), step("b", {2}), step("c", {3})}}});
    REQUIRE(plan);
    // a succeeded and b was released (running on a peer): nothing new is released.
    std::vector<std::optional<StepRow>> rows(3);
    rows[0] = StepRow{JobState::succeeded, zq::pack(10), ""};
    rows[1] = StepRow{JobState::running, "", ""};
    WorkflowBook book;
    auto restored = book.restore("wf", *plan, rows, false);
    CHECK(restored.release.empty());
    CHECK(restored.skip.empty());
    CHECK_FALSE(restored.end);
    auto after_b = book.step_ended("wf", 1, JobState::succeeded, zq::pack(20), "");
    REQUIRE(after_b.release.size() == 1);
    CHECK(as_json(after_b.release[0].args) == json({20, 3}));

    // A row set where b ended but c was never released: c is released now.
    rows[1] = StepRow{JobState::succeeded, zq::pack(20), ""};
    WorkflowBook again;
    auto caught_up = again.restore("wf2", *plan, rows, false);
    REQUIRE(caught_up.release.size() == 1);
    CHECK(caught_up.release[0].step == 2);
}

TEST_CASE("canceling a workflow skips its pending steps and ends it once the released ones end") {
    auto plan = plan_of({{"chain", {step("a"), step("b"), step("c")}}});
    REQUIRE(plan);
    WorkflowBook book;
    book.start("wf", std::move(*plan));
    CHECK(book.released("wf") == std::vector<std::uint32_t>{0});
    auto canceled = book.cancel("wf");
    CHECK(canceled.skip.size() == 2);
    CHECK_FALSE(canceled.end);
    auto end = book.step_ended("wf", 0, JobState::canceled, "", "canceled");
    REQUIRE(end.end);
    CHECK(end.end->state == JobState::canceled);
}
