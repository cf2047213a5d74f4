// zq-bench, the benchmark anyone can rerun: against a real node, and against the stand-in
// node (--null-node) that measures the client alone.
#include "support/node_process.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace zq::test;

TEST_CASE("zq-bench --null-node runs both phases against its stand-in node and reports every task") {
    auto run = run_command({ZQ_BIN_DIR "/zq-bench", "--null-node", "-n", "2000", "--round-trips", "20", "--json"});
    INFO(run.err);
    REQUIRE(run.exit_code == 0);
    auto report = nlohmann::json::parse(run.out);
    CHECK(report["null_node"] == true);
    CHECK(report["tasks"] == 2000);
    CHECK(report["failed"] == 0);
    CHECK(report["latency_samples"] == 20);
    CHECK(report["tasks_per_s"].get<double>() > 0);
}

TEST_CASE("zq-bench against a node with --round-trips 0 skips the latency phase") {
    NodeProcess node({.name = "bench", .min_workers = 2, .max_workers = 2});
    auto run = run_command(
        {ZQ_BIN_DIR "/zq-bench", "--node", node.endpoint(), "-n", "3000", "--round-trips", "0", "--json"});
    INFO(run.err);
    REQUIRE(run.exit_code == 0);
    auto report = nlohmann::json::parse(run.out);
    CHECK(report["failed"] == 0);
    CHECK(report["latency_samples"] == 0);
    CHECK(node.status()["jobs"]["succeeded"] == 3000);
}
