// msgpack ↔ JSON conversions used by the tools, and how zq-send reads its arguments.
#include <zq/codec.hpp>
#include <zq/json.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <tuple>
#include <vector>

namespace {

using nlohmann::json;

// JSON → msgpack bytes → JSON.
json round_trip(const json& value) { return zq::packed_to_json(zq::pack_json(value)); }

msgpack::type::object_type packed_type(const json& value) {
    const std::string bytes = zq::pack_json(value);
    return msgpack::unpack(bytes.data(), bytes.size()).get().type;
}

}  // namespace

TEST_CASE("scalars survive a round trip from JSON to msgpack and back") {
    CHECK(round_trip(nullptr).is_null());
    CHECK(round_trip(true) == json(true));
    CHECK(round_trip(false) == json(false));
    CHECK(round_trip(0) == json(0));
    CHECK(round_trip(42) == json(42));
    CHECK(round_trip(-42) == json(-42));
    CHECK(round_trip(std::numeric_limits<std::int64_t>::min()) == json(std::numeric_limits<std::int64_t>::min()));
    CHECK(round_trip(std::numeric_limits<std::uint64_t>::max()) == json(std::numeric_limits<std::uint64_t>::max()));
    CHECK(round_trip(1.5) == json(1.5));
    CHECK(round_trip(-0.25) == json(-0.25));
    CHECK(round_trip("hello") == json("hello"));
    CHECK(round_trip("") == json(""));
    CHECK(round_trip("h\xC3\xA9llo \xE2\x9C\x93") == json("h\xC3\xA9llo \xE2\x9C\x93"));
}

TEST_CASE("JSON values become the msgpack types a worker expects") {
    CHECK(packed_type(nullptr) == msgpack::type::NIL);
    CHECK(packed_type(true) == msgpack::type::BOOLEAN);
    CHECK(packed_type(7) == msgpack::type::POSITIVE_INTEGER);
    CHECK(packed_type(-7) == msgpack::type::NEGATIVE_INTEGER);
    CHECK(packed_type(2.5) == msgpack::type::FLOAT64);
    CHECK(packed_type("text") == msgpack::type::STR);
    CHECK(packed_type(json::array()) == msgpack::type::ARRAY);
    CHECK(packed_type(json::object()) == msgpack::type::MAP);
    CHECK(packed_type(json::binary({1, 2, 3})) == msgpack::type::BIN);
}

TEST_CASE("nested arrays and maps survive a round trip") {
    const json value = {
        {"name", "report"},
        {"sizes", {1, -2, 3.5, nullptr, true}},
        {"nested", {{"deeper", {{"list", json::array({json::array(), json::object()})}}}}},
        {"empty", json::object()},
    };
    CHECK(round_trip(value) == value);
    CHECK(round_trip(json::array({1, "two", json::array({3})})) == json::array({1, "two", json::array({3})}));
}

TEST_CASE("values packed by msgpack-c convert to the JSON a reader expects") {
    const std::map<std::string, std::vector<int>> value = {{"a", {1, 2}}, {"b", {}}};
    CHECK(zq::packed_to_json(zq::pack(value)) == json({{"a", {1, 2}}, {"b", json::array()}}));
    CHECK(zq::packed_to_json(zq::pack(std::make_tuple(1, "two", 3.0))) == json::array({1, "two", 3.0}));
    CHECK(zq::packed_to_json(zq::pack(std::string("x"))) == json("x"));
}

TEST_CASE("map keys that are not strings are written as their JSON text") {
    const std::map<int, std::string> by_number = {{1, "one"}, {-2, "minus two"}};
    CHECK(zq::packed_to_json(zq::pack(by_number)) == json({{"1", "one"}, {"-2", "minus two"}}));
    const std::map<bool, int> by_flag = {{true, 1}};
    CHECK(zq::packed_to_json(zq::pack(by_flag)) == json({{"true", 1}}));
}

TEST_CASE("binary that is text becomes a string, other binary becomes base64") {
    msgpack::sbuffer buffer;
    msgpack::packer<msgpack::sbuffer> packer(buffer);
    packer.pack_array(4);
    packer.pack_bin(5);
    packer.pack_bin_body("hello", 5);
    packer.pack_bin(3);
    packer.pack_bin_body("\xFF\x00\x01", 3);
    packer.pack_bin(0);
    packer.pack_bin(1);
    packer.pack_bin_body("\x80", 1);
    const json converted = zq::packed_to_json(std::string_view(buffer.data(), buffer.size()));
    CHECK(converted == json::array({"hello", "base64:/wAB", "", "base64:gA=="}));
}

TEST_CASE("a msgpack string with invalid UTF-8 still converts to printable JSON") {
    msgpack::sbuffer buffer;
    msgpack::packer<msgpack::sbuffer> packer(buffer);
    packer.pack_str(4);
    packer.pack_str_body("a\xFF" "b\xC0", 4);
    const json converted = zq::packed_to_json(std::string_view(buffer.data(), buffer.size()));
    CHECK(converted == json("a\xEF\xBF\xBD" "b\xEF\xBF\xBD"));
    CHECK_NOTHROW(converted.dump());
    // Overlong forms and surrogates are not UTF-8 either.
    msgpack::sbuffer overlong;
    msgpack::packer<msgpack::sbuffer> overlong_packer(overlong);
    overlong_packer.pack_str(5);
    overlong_packer.pack_str_body("\xE0\x80\xAF\xED\xA0", 5);
    CHECK_NOTHROW(zq::packed_to_json(std::string_view(overlong.data(), overlong.size())).dump());
}

TEST_CASE("empty or malformed msgpack bytes convert to null") {
    CHECK(zq::packed_to_json("").is_null());
    CHECK(zq::packed_to_json(std::string_view("\xC1", 1)).is_null());     // a reserved byte
    CHECK(zq::packed_to_json(std::string_view("\x92\x01", 2)).is_null());  // a truncated array
}

TEST_CASE("dump_json never throws, even on invalid UTF-8 put in by hand") {
    CHECK(zq::dump_json(json("ok")) == "\"ok\"");
    CHECK_NOTHROW(zq::dump_json(json(std::string("\xFF"))));
}

TEST_CASE("a job converts to an object with id, task, state, result, error, node and its times") {
    zq::JobInfo done;
    done.id = "0190d1e2-0000-7000-8000-000000000001";
    done.task = "zq.echo";
    done.state = zq::JobState::succeeded;
    done.result = zq::pack(std::make_tuple(1, "two"));
    done.node = "a";
    CHECK(zq::to_json(done) == json({{"id", done.id},
                                     {"task", "zq.echo"},
                                     {"state", "succeeded"},
                                     {"result", {1, "two"}},
                                     {"error", nullptr},
                                     {"node", "a"},
                                     {"eta", nullptr},
                                     {"expires", nullptr},
                                     {"attempts", 0},
                                     {"next_attempt", nullptr}}));
    done.state = zq::JobState::retrying;
    done.attempts = 2;
    done.next_attempt_ms = 1700000000123;
    done.eta_ms = 1700000000000;
    const json retrying = zq::to_json(done);
    CHECK(retrying["state"] == "retrying");
    CHECK(retrying["attempts"] == 2);
    CHECK(retrying["next_attempt"] == "2023-11-14T22:13:20.123Z");
    CHECK(retrying["eta"] == "2023-11-14T22:13:20.000Z");

    zq::JobInfo failed;
    failed.id = "j2";
    failed.state = zq::JobState::failed;
    failed.error = "worker killed by SIGKILL";
    const json converted = zq::to_json(failed);
    CHECK(converted["state"] == "failed");
    CHECK(converted["result"].is_null());
    CHECK(converted["error"] == "worker killed by SIGKILL");
}

TEST_CASE("a command-line argument that parses as JSON is that value, anything else is a string") {
    CHECK(zq::parse_cli_argument("3") == json(3));
    CHECK(zq::parse_cli_argument("-2") == json(-2));
    CHECK(zq::parse_cli_argument("1.5") == json(1.5));
    CHECK(zq::parse_cli_argument("true") == json(true));
    CHECK(zq::parse_cli_argument("null").is_null());
    CHECK(zq::parse_cli_argument("[1,\"a\"]") == json::array({1, "a"}));
    CHECK(zq::parse_cli_argument("{\"k\": {\"n\": 2}}") == json({{"k", {{"n", 2}}}}));
    CHECK(zq::parse_cli_argument(" 7 ") == json(7));
    // Quoted, a number stays a string.
    CHECK(zq::parse_cli_argument("\"3\"") == json("3"));
    // Not JSON: sent as typed.
    CHECK(zq::parse_cli_argument("hello") == json("hello"));
    CHECK(zq::parse_cli_argument("") == json(""));
    CHECK(zq::parse_cli_argument("3 apples") == json("3 apples"));
    CHECK(zq::parse_cli_argument("{") == json("{"));
    CHECK(zq::parse_cli_argument("True") == json("True"));
    CHECK(zq::parse_cli_argument("/tmp/file.txt") == json("/tmp/file.txt"));
}

TEST_CASE("command-line arguments pack into the task's argument array") {
    json args = json::array();
    for (const char* word : {"3", "x", "[1,2]", "{\"a\":null}"}) args.push_back(zq::parse_cli_argument(word));
    const std::string packed = zq::pack_json(args);
    auto unpacked = msgpack::unpack(packed.data(), packed.size());
    using Arguments = std::tuple<int, std::string, std::vector<int>, std::map<std::string, msgpack::type::nil_t>>;
    const auto values = unpacked.get().as<Arguments>();
    CHECK(std::get<0>(values) == 3);
    CHECK(std::get<1>(values) == "x");
    CHECK(std::get<2>(values) == std::vector<int>{1, 2});
    CHECK(std::get<3>(values).count("a") == 1);
}
