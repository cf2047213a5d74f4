// The ZQP/1 codec: round trips of every command and bounded rejection of malformed input.
#include <zq/codec.hpp>
#include <zq/task.hpp>

#include <catch2/catch.hpp>

#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

using zq::BodyWriter;
using zq::decode;
using zq::protocol::Command;
namespace f = zq::protocol::field;

namespace {

std::string command_byte(Command command) { return std::string(1, static_cast<char>(command)); }

// A body with every required field of the command, of the right type.
std::string minimal_body(const zq::protocol::CommandSpec& spec) {
    BodyWriter body;
    for (const auto& field : spec.fields) {
        if (!field.required) continue;
        using zq::protocol::FieldType;
        switch (field.type) {
            case FieldType::string: body.add(field.name, "value"); break;
            case FieldType::unsigned_integer: body.add(field.name, std::uint64_t{7}); break;
            case FieldType::integer: body.add(field.name, std::int64_t{-7}); break;
            case FieldType::number: body.add(field.name, 1.5); break;
            case FieldType::boolean: body.add(field.name, true); break;
            case FieldType::array: body.add_packed(field.name, std::string("\x90", 1)); break;
            case FieldType::map: body.add_packed(field.name, std::string("\x80", 1)); break;
            case FieldType::any: body.add(field.name, "anything"); break;
        }
    }
    return std::string(body.finish());
}

std::string nested_arrays(int depth) {
    std::string bytes(static_cast<std::size_t>(depth), '\x91');  // fixarray of one element
    bytes += '\xc0';                                              // nil at the bottom
    return bytes;
}

}  // namespace

TEST_CASE("every command decodes from a body with its required fields") {
    for (const auto& spec : zq::protocol::kCommands) {
        INFO(spec.name);
        auto message = decode("ZQP1", command_byte(spec.command), minimal_body(spec));
        REQUIRE(message);
        CHECK(message->command() == spec.command);
    }
}

TEST_CASE("a task envelope round-trips through SUBMIT") {
    zq::Task task("reports.build");
    task.with_args(1, std::string("two")).with_id(zq::new_job_id()).on_queue("reports");
    task.target = "b";
    task.priority = -3;
    task.max_retries = 2;
    task.soft_time_limit = 1.5;
    task.hard_time_limit = 3;
    task.headers["trace"] = "abc";
    BodyWriter body;
    zq::write_task(body, task);
    body.add(f::watch, true);
    auto message = decode("ZQP1", command_byte(Command::submit), body.finish());
    REQUIRE(message);
    auto read = zq::read_task(*message);
    REQUIRE(read);
    CHECK(read->id == task.id);
    CHECK(read->name == task.name);
    CHECK(read->args == task.args);
    CHECK(read->queue == "reports");
    CHECK(read->target == "b");
    CHECK(read->priority == -3);
    CHECK(read->max_retries == 2);
    CHECK(read->soft_time_limit == 1.5);
    CHECK(read->hard_time_limit == 3);
    CHECK(read->headers == task.headers);
    CHECK(message->boolean(f::watch) == true);
}

TEST_CASE("envelope fields a task does not act on are carried to the next hop untouched") {
    BodyWriter body;
    body.add(f::id, "j1").add(f::task, "t").add(f::eta, std::uint64_t{1700000005000});
    body.add(f::expires, std::uint64_t{1700000009000}).add(f::unique_key, "k");
    body.add_value(f::workflow, std::vector<std::string>{"wf-1"});
    body.add(f::watch, true).add("not_in_the_spec", std::uint64_t{1});
    auto message = decode("ZQP1", command_byte(Command::submit), body.finish());
    REQUIRE(message);
    auto task = zq::read_task(*message);
    REQUIRE(task);
    REQUIRE_FALSE(task->carried.empty());

    // Written again (as a FORWARD would be) and read on the next node.
    BodyWriter forward;
    zq::write_task(forward, *task);
    auto next = decode("ZQP1", command_byte(Command::forward), forward.finish());
    REQUIRE(next);
    CHECK(next->unsigned_integer(f::eta) == 1700000005000u);
    CHECK(next->unsigned_integer(f::expires) == 1700000009000u);
    CHECK(next->string(f::unique_key) == "k");
    // Message fields stay with their message, and fields outside the spec are not carried.
    CHECK_FALSE(next->find(f::watch));
    CHECK_FALSE(next->find("not_in_the_spec"));
    auto again = zq::read_task(*next);
    REQUIRE(again);
    CHECK(again->carried == task->carried);
}

TEST_CASE("every envelope field of the spec is either a task member or carried") {
    using zq::protocol::FieldType;
    auto sample = [](FieldType type) -> std::string_view {
        switch (type) {
            case FieldType::string: return {"\xa1x", 2};
            case FieldType::array: return {"\x91\x01", 2};
            case FieldType::map: return {"\x81\xa1k\x01", 4};
            case FieldType::boolean: return {"\xc3", 1};
            default: return {"\x01", 1};
        }
    };
    for (const auto& spec : zq::protocol::detail::kEnvelope) {
        if (spec.name == f::watch || spec.name == f::node || zq::is_task_member(spec.name)) continue;
        INFO(spec.name);
        BodyWriter body;
        body.add(f::id, "j1").add(f::task, "t").add_packed(spec.name, sample(spec.type));
        auto message = decode("ZQP1", command_byte(Command::submit), body.finish());
        REQUIRE(message);
        auto task = zq::read_task(*message);
        REQUIRE(task);
        BodyWriter forward;
        zq::write_task(forward, *task);
        auto next = decode("ZQP1", command_byte(Command::forward), forward.finish());
        REQUIRE(next);
        CHECK(next->find(spec.name));
    }
}

TEST_CASE("unknown fields are ignored so that peers can add fields") {
    BodyWriter body;
    body.add(f::id, "x").add(f::task, "t").add("future_field", std::uint64_t{1});
    CHECK(decode("ZQP1", command_byte(Command::submit), body.finish()));
}

TEST_CASE("malformed input is rejected with a reason, never a crash") {
    std::string valid = minimal_body(*zq::protocol::find_command(static_cast<std::uint8_t>(Command::submit)));
    auto reason = [](const zq::Result<zq::Message>& result) { return result ? std::string("accepted") : result.error(); };

    CHECK_THAT(reason(decode("ZQP2", command_byte(Command::submit), valid)), Catch::Contains("header"));
    CHECK_THAT(reason(decode("ZQP1", std::string(1, '\x7f'), valid)), Catch::Contains("unknown command"));
    CHECK_THAT(reason(decode("ZQP1", "", valid)), Catch::Contains("one byte"));
    CHECK_THAT(reason(decode("ZQP1", command_byte(Command::submit), "\xc1")), Catch::Contains("malformed"));
    CHECK_THAT(reason(decode("ZQP1", command_byte(Command::submit), "\x92\x01")), Catch::Contains("malformed"));
    CHECK_THAT(reason(decode("ZQP1", command_byte(Command::submit), "\x01")), Catch::Contains("must be a msgpack map"));
    CHECK_THAT(reason(decode("ZQP1", command_byte(Command::submit), valid + "\x01")), Catch::Contains("trailing"));

    BodyWriter missing;
    missing.add(f::task, "t");
    CHECK_THAT(reason(decode("ZQP1", command_byte(Command::submit), missing.finish())),
               Catch::Contains("missing field 'id'"));

    BodyWriter mistyped;
    mistyped.add(f::id, std::uint64_t{5}).add(f::task, "t");
    CHECK_THAT(reason(decode("ZQP1", command_byte(Command::submit), mistyped.finish())),
               Catch::Contains("'id' must be string"));

    BodyWriter long_name;
    long_name.add(f::id, "x").add(f::task, std::string(1000, 'n'));
    CHECK_THAT(reason(decode("ZQP1", command_byte(Command::submit), long_name.finish())),
               Catch::Contains("longer than"));
}

TEST_CASE("decoding is bounded in size, depth and element counts") {
    zq::protocol::Limits limits;
    limits.max_message_bytes = 1024;
    limits.max_depth = 8;
    limits.max_array_items = 100;
    limits.max_string_bytes = 64;

    BodyWriter deep;
    deep.add(f::id, "x").add(f::task, "t").add_packed(f::args, nested_arrays(50));
    CHECK_THAT(decode("ZQP1", std::string(1, '\x10'), deep.finish(), limits).error(), Catch::Contains("nesting"));

    BodyWriter big;
    big.add(f::id, "x").add(f::task, "t").add_value(f::args, std::vector<int>(500, 1));
    CHECK_THAT(decode("ZQP1", std::string(1, '\x10'), big.finish(), limits).error(), Catch::Contains("too large"));

    BodyWriter long_string;
    long_string.add(f::id, "x").add(f::task, "t").add(f::error, std::string(200, 's'));
    CHECK_THAT(decode("ZQP1", std::string(1, '\x10'), long_string.finish(), limits).error(),
               Catch::Contains("too large"));

    std::string huge(2048, '\0');
    CHECK_THAT(decode("ZQP1", std::string(1, '\x10'), huge, limits).error(), Catch::Contains("exceeds the limit"));

    // A length prefix promising more than is there must not allocate or read past the end.
    CHECK_FALSE(decode("ZQP1", std::string(1, '\x10'), std::string("\xdf\xff\xff\xff\xff", 5), limits));
    CHECK_FALSE(decode("ZQP1", std::string(1, '\x10'), std::string("\xdb\xff\xff\xff\xff", 5), limits));
}

TEST_CASE("new job ids are UUIDv7 text and sort by time") {
    std::string first = zq::new_job_id();
    std::string second = zq::new_job_id();
    CHECK(first.size() == 36);
    CHECK(first[14] == '7');
    CHECK(first != second);
    CHECK(first.substr(0, 8) <= second.substr(0, 8));
}

TEST_CASE("the protocol spec in the docs lists the same commands and fields as the code") {
    std::ifstream file(ZQ_SOURCE_DIR "/docs/protocol.md");
    REQUIRE(file);
    std::stringstream text;
    text << file.rdbuf();
    std::string spec = text.str();
    for (const auto& command : zq::protocol::kCommands) {
        INFO(command.name);
        char code[8];
        std::snprintf(code, sizeof code, "0x%02x", static_cast<unsigned>(command.command));
        std::string row = "| " + std::string(command.name) + " | " + code + " |";
        CHECK_THAT(spec, Catch::Contains(row));
        for (const auto& field : command.fields) {
            CHECK_THAT(spec, Catch::Contains("`" + std::string(field.name) + "`"));
        }
    }
}

TEST_CASE("nil in a typed field is refused, not read as absent; nil is a value where any value is") {
    auto reason = [](const zq::Result<zq::Message>& result) { return result ? std::string("accepted") : result.error(); };
    BodyWriter optional_nil;
    optional_nil.add(f::id, "x").add(f::task, "t").add_packed(f::queue, std::string("\xc0", 1));
    CHECK_THAT(reason(decode("ZQP1", command_byte(Command::submit), optional_nil.finish())),
               Catch::Contains("SUBMIT: field 'q' must be string, got nil"));
    BodyWriter required_nil;
    required_nil.add_packed(f::id, std::string("\xc0", 1)).add(f::task, "t");
    CHECK_THAT(reason(decode("ZQP1", command_byte(Command::submit), required_nil.finish())),
               Catch::Contains("field 'id' must be string, got nil"));
    BodyWriter rid_nil;
    rid_nil.add(f::operation, "status").add_packed(f::request_id, std::string("\xc0", 1));
    CHECK_THAT(reason(decode("ZQP1", command_byte(Command::control), rid_nil.finish())),
               Catch::Contains("'rid' must be unsigned integer, got nil"));

    // A task that returned null: STATE carries `res: nil`, and the reader hands it on as nil.
    BodyWriter state;
    state.add(f::id, "x").add(f::state, "succeeded").add_packed(f::result, std::string("\xc0", 1));
    auto message = decode("ZQP1", command_byte(Command::state), state.finish());
    REQUIRE(message);
    CHECK(message->packed(f::result) == std::string("\xc0", 1));
    CHECK_FALSE(message->packed(f::error));
}

TEST_CASE("strings must be valid UTF-8 wherever they are in a body") {
    CHECK(zq::valid_utf8("plain ascii"));
    CHECK(zq::valid_utf8("\xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));  // été € 😀
    CHECK_FALSE(zq::valid_utf8("\xff"));
    CHECK_FALSE(zq::valid_utf8("\xc0\xaf"));          // overlong '/'
    CHECK_FALSE(zq::valid_utf8("\xed\xa0\x80"));      // a surrogate
    CHECK_FALSE(zq::valid_utf8("\xf4\x90\x80\x80"));  // above U+10FFFF
    CHECK_FALSE(zq::valid_utf8("\xe2\x82"));          // cut short
    CHECK(zq::repaired_utf8("ok\xff!") == "ok\xef\xbf\xbd!");
    CHECK(zq::repaired_utf8("\xe2\x82") == "\xef\xbf\xbd\xef\xbf\xbd");

    auto reason = [](const zq::Result<zq::Message>& result) { return result ? std::string("accepted") : result.error(); };
    BodyWriter bad_id;
    bad_id.add(f::id, "job-\xff").add(f::task, "t");
    CHECK_THAT(reason(decode("ZQP1", command_byte(Command::submit), bad_id.finish())),
               Catch::Contains("field 'id' holds a string that is not valid UTF-8"));
    BodyWriter bad_queue;
    bad_queue.add(f::id, "x").add(f::task, "t").add(f::queue, "q\xc0\xaf");
    CHECK_THAT(reason(decode("ZQP1", command_byte(Command::submit), bad_queue.finish())),
               Catch::Contains("field 'q' holds a string that is not valid UTF-8"));
    BodyWriter bad_argument;
    bad_argument.add(f::id, "x").add(f::task, "t").add_value(f::args, std::vector<std::string>{"fine", "\xed\xa0\x80"});
    CHECK_THAT(reason(decode("ZQP1", command_byte(Command::submit), bad_argument.finish())),
               Catch::Contains("field 'args'"));
    BodyWriter bad_key;
    bad_key.add(f::id, "x").add(f::task, "t").add("\xfe", "v");
    CHECK_THAT(reason(decode("ZQP1", command_byte(Command::submit), bad_key.finish())), Catch::Contains("UTF-8"));
    // A key that is not a string, holding a string that is not UTF-8 (found by fuzzing: the
    // reason once read the key as a string).
    const std::string integer_key("\x83\xa2id\xa1x\xa4task\xa1t\x07\xa1\xff", 16);
    CHECK_THAT(reason(decode("ZQP1", command_byte(Command::submit), integer_key)),
               Catch::Contains("(a key that is not a string)"));
    // Bytes travel as msgpack bin, which is not text and is not checked.
    BodyWriter bytes;
    bytes.add(f::id, "x").add(f::task, "t").add_packed(f::args, std::string("\x91\xc4\x02\xff\xfe", 5));
    CHECK(decode("ZQP1", command_byte(Command::submit), bytes.finish()));
    BodyWriter unicode;
    unicode.add(f::id, "x").add(f::task, "t\xc3\xa2" "che").add(f::queue, "\xe2\x82\xac");
    CHECK(decode("ZQP1", command_byte(Command::submit), unicode.finish()));
}

TEST_CASE("times in seconds must be finite and at most a year; anything else is a bad task") {
    const double infinity = std::numeric_limits<double>::infinity();
    auto read = [](std::string_view field, double seconds) {
        BodyWriter body;
        body.add(f::id, "x").add(f::task, "t").add(field, seconds);
        auto message = decode("ZQP1", command_byte(Command::submit), body.finish());
        REQUIRE(message);
        auto task = zq::read_task(*message);
        return task ? std::string("ok") : task.error();
    };
    for (auto field : {f::hard_time_limit, f::soft_time_limit, f::retry_delay, f::retry_backoff, f::retry_backoff_max}) {
        INFO(field);
        CHECK_THAT(read(field, infinity), Catch::Contains("field '" + std::string(field) +
                                                          "' must be a finite number of seconds from 0 to 31622400, got inf"));
        CHECK_THAT(read(field, -infinity), Catch::Contains("got -inf"));
        CHECK_THAT(read(field, std::numeric_limits<double>::quiet_NaN()), Catch::Contains("got nan"));
        CHECK_THAT(read(field, -1), Catch::Contains("got -1"));
        CHECK_THAT(read(field, 4e7), Catch::Contains("got 4e+07"));
        CHECK(read(field, 0) == "ok");
        CHECK(read(field, 2.5) == "ok");
        CHECK(read(field, 366.0 * 24 * 3600) == "ok");
    }
}

TEST_CASE("a result with a string that is not UTF-8 is passed on with that string as bin") {
    std::string valid = zq::pack(std::vector<std::string>{"fine", "\xc3\xa9t\xc3\xa9"});
    CHECK(zq::text_checked(valid) == valid);
    msgpack::sbuffer buffer;
    msgpack::packer<msgpack::sbuffer> packer(buffer);
    packer.pack_map(1);
    packer.pack(std::string("raw"));
    packer.pack(std::string("\xff\x00\x01", 3));
    std::string checked = zq::text_checked(std::string_view(buffer.data(), buffer.size()));
    auto unpacked = msgpack::unpack(checked.data(), checked.size());
    const msgpack::object& map = unpacked.get();
    REQUIRE(map.type == msgpack::type::MAP);
    CHECK(map.via.map.ptr[0].key.type == msgpack::type::STR);
    REQUIRE(map.via.map.ptr[0].val.type == msgpack::type::BIN);
    CHECK(std::string(map.via.map.ptr[0].val.via.bin.ptr, map.via.map.ptr[0].val.via.bin.size) ==
          std::string("\xff\x00\x01", 3));
}
