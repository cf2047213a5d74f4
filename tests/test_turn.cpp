// The turn without a node: what it holds until the commit, and what a failed commit leaves
// to undo (reject the submissions, put back the starts, journal the outcomes again).
#include "turn.hpp"

#include <catch2/catch.hpp>

#include <deque>

using zq::JobState;
using zq::Status;
using zq::node::Job;
using zq::node::Turn;
using zq::protocol::Command;

namespace {

Job& make(std::deque<Job>& jobs, const std::string& id) {
    Job& job = jobs.emplace_back();
    job.record.id = id;
    return job;
}

}  // namespace

TEST_CASE("a new turn is empty, and anything it is given makes it not empty") {
    std::deque<Job> jobs;
    CHECK(Turn{}.empty());
    Turn replies;
    replies.reply("client", Command::control_reply, "body");
    CHECK_FALSE(replies.empty());
    Turn writes;
    writes.journal_write(zq::success());
    CHECK_FALSE(writes.empty());
    Turn rewrites;
    rewrites.rewrite_later({&make(jobs, "j")}, {});
    CHECK_FALSE(rewrites.empty());
}

TEST_CASE("the first journal failure of a turn is the one it reports") {
    Turn turn;
    turn.journal_write(zq::success());
    CHECK(turn.wrote());
    CHECK(turn.journal_error().empty());
    turn.journal_write(Status(zq::Error{"disk full"}));
    turn.journal_write(Status(zq::Error{"read-only"}));
    CHECK(turn.journal_error() == "disk full");
}

TEST_CASE("a job accepted in the turn is known to it, and a second submission of it waits as well") {
    std::deque<Job> jobs;
    Turn turn;
    Job& job = make(jobs, "j");
    CHECK_FALSE(turn.accepts(job));
    turn.accept(job, "first");
    turn.accept(job, "second");
    CHECK(turn.accepts(job));
    REQUIRE(turn.accepted().size() == 2);
    CHECK(turn.accepted()[1].client == "second");
}

TEST_CASE("a failed commit rejects every submitter and forgets each accepted job once, whatever it did") {
    std::deque<Job> jobs;
    Turn turn;
    Job& twice = make(jobs, "twice");
    Job& from_peer = make(jobs, "from-peer");
    Job& broadcast = make(jobs, "broadcast");
    turn.accept(twice, "c1");
    turn.accept(from_peer, "");
    turn.accept(twice, "c2");
    turn.accept(broadcast, "c3");
    turn.publish(broadcast);
    turn.start(from_peer, 7);
    turn.finish(twice);
    turn.reply("c4", Command::control_reply, "status");
    turn.to_peer("b", Command::taken, "T");
    turn.event({"twice", "queued", "t", "default", ""});

    Turn::Undo undo = turn.fail();
    REQUIRE(undo.rejected.size() == 3);
    CHECK(undo.rejected[0].client == "c1");
    CHECK(undo.rejected[1].client == "c2");
    CHECK(undo.rejected[2].job == &broadcast);
    CHECK(undo.dropped == std::vector<Job*>{&twice, &from_peer, &broadcast});
    CHECK(undo.put_back.empty());
    CHECK(undo.unwritten.empty());

    // What is left to send is the replies; no peer, worker or subscriber hears the rest.
    CHECK(turn.accepted().empty());
    CHECK(turn.started().empty());
    CHECK(turn.finished().empty());
    CHECK(turn.broadcasts().empty());
    CHECK(turn.to_peers().empty());
    CHECK(turn.events().empty());
    REQUIRE(turn.replies().size() == 1);
    CHECK(turn.replies()[0].client == "c4");
}

TEST_CASE("a failed commit puts back the jobs about to start, last first, and keeps the outcomes to rewrite") {
    std::deque<Job> jobs;
    Turn turn;
    Job& first = make(jobs, "first");
    Job& second = make(jobs, "second");
    Job& done = make(jobs, "done");
    turn.start(first, 1);
    turn.start(second, 2);
    turn.finish(done);
    turn.outcomes_written("b1");

    Turn::Undo undo = turn.fail();
    REQUIRE(undo.put_back.size() == 2);
    // Pushed to the front one by one, the first started ends up first again.
    CHECK(undo.put_back[0].job == &second);
    CHECK(undo.put_back[0].worker == 2);
    CHECK(undo.put_back[1].job == &first);
    CHECK(undo.unwritten == std::vector<Job*>{&done});
    CHECK(undo.unwritten_outcomes == std::vector<std::string>{"b1"});
    CHECK(undo.dropped.empty());

    Turn next;
    next.rewrite_later(std::move(undo.unwritten), std::move(undo.unwritten_outcomes));
    CHECK(next.has_rewrites());
    Turn::Rewrites rewrites = next.take_rewrites();
    CHECK(rewrites.jobs == std::vector<Job*>{&done});
    CHECK(rewrites.outcomes == std::vector<std::string>{"b1"});
    CHECK_FALSE(next.has_rewrites());
    CHECK(next.empty());
}

TEST_CASE("a failed commit keeps the jobs placed on peers to write again, but not a job it forgets") {
    std::deque<Job> jobs;
    Turn turn;
    Job& placed = make(jobs, "placed");
    Job& accepted = make(jobs, "accepted");
    turn.place(placed);
    turn.place(placed);  // placed twice in one turn: written again once
    turn.accept(accepted, "client");
    turn.place(accepted);
    turn.to_peer("b", Command::forward, "body");
    Turn::Undo undo = turn.fail();
    REQUIRE(undo.unwritten_placements.size() == 1);
    CHECK(undo.unwritten_placements[0] == &placed);
    CHECK(turn.to_peers().empty());
    Turn next;
    next.rewrite_placements_later(std::move(undo.unwritten_placements));
    CHECK(next.has_rewrites());
    CHECK_FALSE(next.empty());
    Turn::Rewrites rewrites = next.take_rewrites();
    REQUIRE(rewrites.placements.size() == 1);
    CHECK(rewrites.placements[0] == &placed);
    CHECK_FALSE(next.has_rewrites());
}
