// The bodies the node writes about jobs, read back with the same decoder a receiver uses: a
// forwarded job arrives as the job that was sent, and each reply carries the protocol's fields.
#include "message_bodies.hpp"

#include <catch2/catch.hpp>

#include <map>
#include <string>

using zq::JobState;
using zq::Message;
using zq::node::JobRecord;
using zq::protocol::Command;
namespace f = zq::protocol::field;

namespace {

Message decoded(Command command, const std::string& body) {
    auto message = zq::decode(zq::protocol::kHeader, std::string(1, static_cast<char>(command)), body);
    REQUIRE(message);
    return std::move(*message);
}

JobRecord sample_job() {
    return JobRecord{.id = "0190a1b2-0000-7000-8000-000000000001",
                     .task = "reports.build",
                     .queue = "build",
                     .target = "b",
                     .priority = 3,
                     .args = zq::pack(std::make_tuple(1, "two")),
                     .soft_time_limit = 10,
                     .hard_time_limit = 20,
                     .max_retries = 2,
                     .retry_delay = 0.5};
}

}  // namespace

TEST_CASE("a FORWARD body reads back as the job it was written from, with its origin") {
    JobRecord job = sample_job();
    Message message = decoded(Command::forward, zq::node::forward_body(job, "a"));
    auto task = zq::read_task(message);
    REQUIRE(task);
    JobRecord received = zq::node::record_from(std::move(*task), 0, "b");
    CHECK(received.id == job.id);
    CHECK(received.task == job.task);
    CHECK(received.queue == job.queue);
    CHECK(received.target == job.target);
    CHECK(received.priority == job.priority);
    CHECK(received.args == job.args);
    CHECK(received.max_retries == job.max_retries);
    CHECK(received.retry_delay == job.retry_delay);
    CHECK(received.soft_time_limit == job.soft_time_limit);
    CHECK(received.hard_time_limit == job.hard_time_limit);
    CHECK(received.state == JobState::queued);
    CHECK(message.string(f::node) == "a");
}

TEST_CASE("a forwarded job keeps its times, retry policy and the envelope fields zq carries without acting on") {
    zq::BodyWriter submit;
    submit.add(f::id, "j1").add(f::task, "t").add(f::eta, std::uint64_t{1700000005000});
    submit.add(f::expires, std::uint64_t{1700000009000}).add_value(f::headers, std::map<std::string, std::string>{{"tp", "x"}});
    submit.add(f::retry_backoff, 0.5).add(f::retry_jitter, true).add(f::unique_key, "k");
    submit.add_value(f::workflow, std::vector<std::string>{"w1", "0"});  // carried, not a member
    auto task = zq::read_task(decoded(Command::submit, std::string(submit.finish())));
    REQUIRE(task);
    JobRecord at_origin = zq::node::record_from(std::move(*task), 0, "a");
    REQUIRE_FALSE(at_origin.carried.empty());

    Message forward = decoded(Command::forward, zq::node::forward_body(at_origin, "a"));
    CHECK(forward.unsigned_integer(f::eta) == 1700000005000u);
    CHECK(forward.unsigned_integer(f::expires) == 1700000009000u);
    auto received = zq::read_task(forward);
    REQUIRE(received);
    CHECK(received->headers.at("tp") == "x");
    CHECK(received->unique_key == "k");
    JobRecord at_owner = zq::node::record_from(std::move(*received), 0, "b");
    CHECK(at_owner.carried == at_origin.carried);
    CHECK(at_owner.headers == at_origin.headers);
    CHECK(at_owner.eta_ms == 1700000005000);
    CHECK(at_owner.expires_ms == 1700000009000);
    CHECK(at_owner.retry_backoff == 0.5);
    CHECK(at_owner.retry_jitter);
}

TEST_CASE("a BROADCAST body lists its target nodes") {
    zq::BodyWriter body;
    zq::node::write_broadcast(body, sample_job(), zq::node::pending_outcomes({"c", "a", "b"}), "a");
    Message message = decoded(Command::broadcast, std::string(body.finish()));
    const msgpack::object* targets = message.find(f::targets);
    REQUIRE(targets);
    CHECK(targets->as<std::vector<std::string>>() == std::vector<std::string>{"a", "b", "c"});
}

TEST_CASE("STATE carries the job's state, node, result and error") {
    JobRecord job = sample_job();
    job.state = JobState::failed;
    job.node = "b";
    job.error = "boom";
    Message message = decoded(Command::state, zq::node::job_body(job));
    CHECK(message.string(f::id) == job.id);
    CHECK(message.string(f::state) == "failed");
    CHECK(message.string(f::node) == "b");
    CHECK(message.string(f::error) == "boom");
    CHECK(message.find(f::result) == nullptr);
}

TEST_CASE("ACCEPTED, REJECTED and control replies carry what the client reads") {
    Message accepted = decoded(Command::accepted, zq::node::accepted_body("j", JobState::queued, "a", true));
    CHECK(accepted.string(f::state) == "queued");
    CHECK(accepted.boolean(f::duplicate) == true);
    CHECK(decoded(Command::accepted, zq::node::accepted_body("j", JobState::queued, "a", false)).find(f::duplicate) ==
          nullptr);

    Message rejected = decoded(Command::rejected, zq::node::rejected_body("", "node busy"));
    CHECK(rejected.string(f::reason) == "node busy");
    CHECK(rejected.find(f::id) == nullptr);

    Message refused = decoded(Command::control_reply, zq::node::control_error_body(7, "no job x"));
    CHECK(refused.unsigned_integer(f::request_id) == 7u);
    CHECK(refused.boolean(f::ok) == false);
    CHECK(refused.string(f::error) == "no job x");

    Message answered = decoded(Command::control_reply, zq::node::control_reply_body(8, zq::pack(42)));
    CHECK(answered.boolean(f::ok) == true);
    CHECK(answered.unsigned_integer(f::data) == 42u);

    Message notice = decoded(Command::taken, zq::node::job_notice("j", "b"));
    CHECK(notice.string(f::id) == "j");
    CHECK(notice.string(f::node) == "b");
}
