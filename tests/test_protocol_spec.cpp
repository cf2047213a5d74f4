// The spec walked against a real node: docs/protocol.md is read here (its command table, the
// envelope, the field types, the REJECTED reasons, the shape of status), each command of the
// table is sent on the client port as the doc describes it, and the answer is checked against
// the doc. So the spec and the node cannot drift apart without this test failing.
#include "support/node_process.hpp"
#include "support/raw_dealer.hpp"

#include <zq/codec.hpp>
#include <zq/json.hpp>
#include <zq/rejection.hpp>
#include <zq/task.hpp>

#include <catch2/catch.hpp>

#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

using namespace zq::test;
namespace f = zq::protocol::field;
using zq::protocol::Command;

namespace {

std::string read_spec() {
    std::ifstream file(ZQ_SOURCE_DIR "/docs/protocol.md");
    REQUIRE(file);
    std::stringstream text;
    text << file.rdbuf();
    return text.str();
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::stringstream stream(text);
    for (std::string line; std::getline(stream, line);) lines.push_back(line);
    return lines;
}

// The cells of a markdown table row, trimmed: "| a | b |" is {"a", "b"}.
std::vector<std::string> cells_of(const std::string& row) {
    std::vector<std::string> cells;
    std::string cell;
    for (std::size_t i = 1; i < row.size(); ++i) {
        if (row[i] == '|') {
            auto first = cell.find_first_not_of(' ');
            auto last = cell.find_last_not_of(' ');
            cells.push_back(first == std::string::npos ? "" : cell.substr(first, last - first + 1));
            cell.clear();
        } else {
            cell += row[i];
        }
    }
    return cells;
}

struct SpecField {
    std::string name;
    bool required = true;
};

// "`id`, `task`, `args`?" as fields; ENVELOPE stands for the envelope's fields.
std::vector<SpecField> fields_of(const std::string& list, const std::vector<SpecField>& envelope) {
    std::vector<SpecField> fields;
    std::stringstream stream(list);
    for (std::string item; std::getline(stream, item, ',');) {
        auto first = item.find_first_not_of(' ');
        if (first == std::string::npos) continue;
        item = item.substr(first);
        while (!item.empty() && (item.back() == ' ' || item.back() == '\n')) item.pop_back();
        if (item == "ENVELOPE") {
            fields.insert(fields.end(), envelope.begin(), envelope.end());
            continue;
        }
        SpecField field;
        field.required = item.back() != '?';
        auto open = item.find('`'), close = item.rfind('`');
        REQUIRE(open != close);
        field.name = item.substr(open + 1, close - open - 1);
        fields.push_back(field);
    }
    return fields;
}

struct SpecCommand {
    std::string name;
    std::uint8_t code = 0;
    std::vector<SpecField> fields;
};

// What docs/protocol.md says, read once.
struct Spec {
    std::vector<SpecCommand> commands;
    std::map<std::string, std::string> field_types;  // field name: its type in the Fields table
    std::vector<std::string> rejection_prefixes;     // the `why` table
    std::set<std::string> status_keys;               // top-level keys of `status` data

    const SpecCommand& command(const std::string& name) const {
        for (const auto& command : commands) {
            if (command.name == name) return command;
        }
        FAIL("the spec has no command " << name);
        throw std::logic_error("unreachable");
    }
};

// The top-level keys of "`{name, incarnation, pool: {min, max}, ...}`".
std::set<std::string> top_level_keys(const std::string& shape) {
    std::set<std::string> keys;
    int depth = 0;
    std::string current;
    bool in_key = false;
    for (char c : shape) {
        if (c == '{' || c == '[') {
            if (depth == 0 && c == '{') in_key = true;
            ++depth;
            continue;
        }
        if (c == '}' || c == ']') {
            --depth;
            if (depth == 0 && !current.empty()) keys.insert(current);
            current.clear();
            continue;
        }
        if (depth != 1) continue;
        if (c == ',') {
            if (!current.empty()) keys.insert(current);
            current.clear();
            in_key = true;
        } else if (c == ':') {
            if (!current.empty()) keys.insert(current);
            current.clear();
            in_key = false;
        } else if (in_key && (std::isalnum(static_cast<unsigned char>(c)) || c == '_')) {
            current += c;
        }
    }
    return keys;
}

Spec read_spec_tables() {
    const std::string text = read_spec();
    const auto lines = lines_of(text);
    Spec spec;

    // The envelope: "ENVELOPE is the task envelope: `id`, `task`, ..." up to the blank line.
    auto at = text.find("ENVELOPE is the task envelope:");
    REQUIRE(at != std::string::npos);
    auto end = text.find("\n\n", at);
    const std::size_t start = at + std::string("ENVELOPE is the task envelope:").size();
    std::string list = text.substr(start, end - start);
    for (char& c : list) {
        if (c == '\n') c = ' ';
    }
    const std::vector<SpecField> envelope = fields_of(list, {});

    enum class Table { none, commands, fields, rejections } table = Table::none;
    for (const std::string& line : lines) {
        if (line.rfind("| command | code |", 0) == 0) {
            table = Table::commands;
            continue;
        }
        if (line.rfind("| field | type | meaning |", 0) == 0) {
            table = Table::fields;
            continue;
        }
        if (line.rfind("| `why` starts with |", 0) == 0) {
            table = Table::rejections;
            continue;
        }
        if (line.empty() || line[0] != '|') {
            table = Table::none;
            continue;
        }
        if (line.rfind("|---", 0) == 0 || line.rfind("| ---", 0) == 0) continue;
        auto cells = cells_of(line);
        if (table == Table::commands) {
            REQUIRE(cells.size() == 4);
            SpecCommand command;
            command.name = cells[0];
            command.code = static_cast<std::uint8_t>(std::stoul(cells[1], nullptr, 16));
            command.fields = fields_of(cells[3], envelope);
            spec.commands.push_back(command);
        } else if (table == Table::fields) {
            REQUIRE(cells.size() == 3);
            spec.field_types[cells[0].substr(1, cells[0].size() - 2)] = cells[1];
        } else if (table == Table::rejections) {
            spec.rejection_prefixes.push_back(cells[0].substr(1, cells[0].size() - 2));
        }
        if (cells.size() >= 2 && cells[0] == "`status`") spec.status_keys = top_level_keys(cells[1]);
    }
    return spec;
}

// How each command of the spec is used on the client port.
enum class Role { client_request, peer_command, sent_by_node };

// Every command of the spec must have a role here: a new command fails this test until it
// is placed (and so walked).
std::optional<Role> role_of(const std::string& name) {
    static const std::map<std::string, Role> roles = {
        {"SUBMIT", Role::client_request},       {"WORKFLOW", Role::client_request},
        {"CANCEL", Role::client_request},       {"CONTROL", Role::client_request},
        {"BROADCAST", Role::client_request},    {"HELLO", Role::peer_command},
        {"WELCOME", Role::peer_command},        {"HEARTBEAT", Role::peer_command},
        {"DISCONNECT", Role::peer_command},     {"FORWARD", Role::peer_command},
        {"TAKEN", Role::peer_command},          {"STATE", Role::peer_command},
        {"STATE-ACK", Role::peer_command},      {"CLAIM", Role::peer_command},
        {"CLAIMED", Role::peer_command},        {"KEY-ACQUIRE", Role::peer_command},
        {"KEY-ANSWER", Role::peer_command},     {"KEY-RELEASE", Role::peer_command},
        {"REPAIR", Role::peer_command},         {"GONE", Role::peer_command},
        {"ACCEPTED", Role::sent_by_node},       {"REJECTED", Role::sent_by_node},
        {"CONTROL-REPLY", Role::sent_by_node},  {"EVENT", Role::sent_by_node},
        {"TAP", Role::sent_by_node},
    };
    auto found = roles.find(name);
    if (found == roles.end()) return std::nullopt;
    return found->second;
}

// A value of the spec's type for a field, plausible where the field names something.
void write_value(zq::BodyWriter& body, const std::string& field, const std::string& type, const std::string& id) {
    if (type == "string") {
        if (field == f::id) body.add(field, id);
        else if (field == f::task) body.add(field, "zq.noop");
        else if (field == f::node) body.add(field, "intruder");
        else if (field == f::operation) body.add(field, "status");
        else if (field == f::state) body.add(field, "succeeded");
        else body.add(field, "value");
    } else if (type == "unsigned integer") {
        body.add(field, std::uint64_t{7});
    } else if (type == "integer") {
        body.add(field, std::int64_t{-7});
    } else if (type == "number") {
        body.add(field, 1.5);
    } else if (type == "boolean") {
        body.add(field, true);
    } else if (type == "array") {
        body.add_packed(field, std::string("\x90", 1));
    } else if (type == "map") {
        body.add_packed(field, std::string("\x80", 1));
    } else {
        body.add(field, "anything");
    }
}

// A body with every required field of the command, of the type the spec gives.
zq::BodyWriter& body_of(zq::BodyWriter& body, const Spec& spec, const SpecCommand& command, const std::string& id) {
    for (const SpecField& field : command.fields) {
        if (!field.required) continue;
        auto type = spec.field_types.find(field.name);
        REQUIRE(type != spec.field_types.end());
        write_value(body, field.name, type->second, id);
    }
    return body;
}

struct Reply {
    std::uint8_t command = 0;
    std::string body;
    nlohmann::json json;  // the body as JSON, for reading
};

// A DEALER on the node's client port that sends raw ZQP messages and reads what comes back.
class RawClient {
public:
    explicit RawClient(const std::string& endpoint) : dealer_(endpoint) {}

    void send(std::uint8_t command, std::string_view body) { dealer_.send(command, body); }

    // The next message within `deadline`, decoded and checked as the node's reply must be.
    std::optional<Reply> receive(std::chrono::milliseconds deadline = kDeadline) {
        auto frames = dealer_.receive_frames(deadline);
        if (!frames) return std::nullopt;
        REQUIRE(frames->size() == 3);
        // What the node sends passes its own strict decoder (types, nil, UTF-8).
        auto decoded = zq::decode((*frames)[0], (*frames)[1], (*frames)[2]);
        INFO((decoded ? std::string() : decoded.error()));
        REQUIRE(decoded);
        Reply reply;
        reply.command = static_cast<std::uint8_t>((*frames)[1][0]);
        reply.body = (*frames)[2];
        reply.json = zq::packed_to_json(reply.body);
        return reply;
    }

    // The next message of the given command, skipping others (a STATE after ACCEPTED).
    std::optional<Reply> receive(Command command) {
        for (int i = 0; i < 8; ++i) {
            auto reply = receive();
            if (!reply) return std::nullopt;
            if (reply->command == static_cast<std::uint8_t>(command)) return reply;
        }
        return std::nullopt;
    }

private:
    RawDealer dealer_;
};

// Every key of the reply is a field the spec lists for its command.
void check_fields_documented(const Spec& spec, const Reply& reply) {
    const auto* code = zq::protocol::find_command(reply.command);
    REQUIRE(code);
    const SpecCommand& command = spec.command(std::string(code->name));
    for (const auto& [key, value] : reply.json.items()) {
        INFO(command.name << " field " << key);
        bool listed = std::any_of(command.fields.begin(), command.fields.end(),
                                  [&](const SpecField& field) { return field.name == key; });
        CHECK(listed);
    }
    for (const SpecField& field : command.fields) {
        INFO(command.name << " required field " << field.name);
        if (field.required) CHECK(reply.json.contains(field.name));
    }
}

}  // namespace

TEST_CASE("the command table, the envelope and the REJECTED reasons of the spec are the code's") {
    const Spec spec = read_spec_tables();
    REQUIRE(spec.commands.size() == std::size(zq::protocol::kCommands));
    for (const SpecCommand& command : spec.commands) {
        INFO(command.name);
        const auto* code = zq::protocol::find_command(command.code);
        REQUIRE(code);
        CHECK(code->name == command.name);
        CHECK(role_of(command.name));
        // The same fields, each as required in the doc as in the code.
        REQUIRE(command.fields.size() == code->fields.size());
        for (const auto& field : code->fields) {
            INFO(field.name);
            auto listed = std::find_if(command.fields.begin(), command.fields.end(),
                                       [&](const SpecField& each) { return each.name == field.name; });
            REQUIRE(listed != command.fields.end());
            CHECK(listed->required == field.required);
            auto type = spec.field_types.find(std::string(field.name));
            REQUIRE(type != spec.field_types.end());
            CHECK(type->second == zq::protocol::field_type_name(field.type));
        }
    }
    std::vector<std::string> prefixes;
    for (const auto& kind : zq::protocol::kRejections) prefixes.emplace_back(kind.prefix);
    CHECK(spec.rejection_prefixes == prefixes);
}

TEST_CASE("every command of the spec, sent on the client port, is answered as the spec says") {
    const Spec spec = read_spec_tables();
    NodeProcess node({.name = "spec", .min_workers = 1, .max_workers = 1});
    RawClient raw(node.endpoint());

    // SUBMIT with watch: ACCEPTED, then STATE succeeded with `res` (zq.noop returns nil).
    const std::string job_id = zq::new_job_id();
    {
        zq::BodyWriter body;
        body_of(body, spec, spec.command("SUBMIT"), job_id).add(f::watch, true);
        raw.send(0x10, body.finish());
        auto accepted = raw.receive(Command::accepted);
        REQUIRE(accepted);
        check_fields_documented(spec, *accepted);
        CHECK(accepted->json["id"] == job_id);
        auto state = raw.receive(Command::state);
        REQUIRE(state);
        check_fields_documented(spec, *state);
        CHECK(state->json["st"] == "succeeded");
        REQUIRE(state->json.contains("res"));
        INFO(state->json.dump());
        CHECK(state->json["res"].is_null());
    }
    // WORKFLOW (a one-step flow): ACCEPTED.
    {
        zq::BodyWriter body;
        body.add(f::id, zq::new_job_id()).add_value(f::flow, std::map<std::string, std::string>{{"task", "zq.noop"}});
        raw.send(0x1d, body.finish());
        auto accepted = raw.receive(Command::accepted);
        REQUIRE(accepted);
        check_fields_documented(spec, *accepted);
    }
    // BROADCAST from a client (no `tgts`): ACCEPTED.
    {
        zq::BodyWriter body;
        body_of(body, spec, spec.command("BROADCAST"), zq::new_job_id());
        raw.send(0x30, body.finish());
        auto accepted = raw.receive(Command::accepted);
        REQUIRE(accepted);
        check_fields_documented(spec, *accepted);
    }
    // CANCEL of a finished job: its job map, unchanged. Of an unknown one: ok false, "no job".
    // The reply carries `rid` exactly when the request did.
    {
        zq::BodyWriter body;
        body_of(body, spec, spec.command("CANCEL"), job_id).add(f::request_id, std::uint64_t{41});
        raw.send(0x16, body.finish());
        auto reply = raw.receive(Command::control_reply);
        REQUIRE(reply);
        check_fields_documented(spec, *reply);
        CHECK(reply->json["rid"] == 41);
        CHECK(reply->json["ok"] == true);
        CHECK(reply->json["data"]["st"] == "succeeded");

        zq::BodyWriter unknown;
        unknown.add(f::id, "no-such-job");
        raw.send(0x16, unknown.finish());
        auto refused = raw.receive(Command::control_reply);
        REQUIRE(refused);
        check_fields_documented(spec, *refused);
        CHECK_FALSE(refused->json.contains("rid"));
        CHECK(refused->json["ok"] == false);
        CHECK(refused->json["err"] == "no job no-such-job");
    }
    // CONTROL status: the keys the spec lists, no more, no fewer; an unknown op: ok false.
    {
        zq::BodyWriter body;
        body_of(body, spec, spec.command("CONTROL"), "").add(f::request_id, std::uint64_t{42});
        raw.send(0x20, body.finish());
        auto reply = raw.receive(Command::control_reply);
        REQUIRE(reply);
        check_fields_documented(spec, *reply);
        CHECK(reply->json["rid"] == 42);
        std::set<std::string> keys;
        for (const auto& [key, value] : reply->json["data"].items()) keys.insert(key);
        CHECK(keys == spec.status_keys);

        zq::BodyWriter unknown;
        unknown.add(f::operation, "make-coffee");
        raw.send(0x20, unknown.finish());
        auto refused = raw.receive(Command::control_reply);
        REQUIRE(refused);
        CHECK_FALSE(refused->json.contains("rid"));
        CHECK(refused->json["ok"] == false);
        CHECK_THAT(refused->json["err"].get<std::string>(), Catch::Contains("unknown operation 'make-coffee'"));

        zq::BodyWriter peers;
        peers.add(f::operation, "peers");
        raw.send(0x20, peers.finish());
        auto listed = raw.receive(Command::control_reply);
        REQUIRE(listed);
        CHECK(listed->json["data"].is_array());
    }

    // Everything a client asked for has ended: the node's counts from here on must not move.
    REQUIRE(wait_until([&] {
        auto status = node.status();
        return status["pending"] == 0;
    }));
    const nlohmann::json counts = node.status()["jobs"];

    // Peer commands and what only a node sends: REJECTED, and nothing changes.
    for (const SpecCommand& command : spec.commands) {
        auto role = role_of(command.name);
        REQUIRE(role);
        if (*role == Role::client_request) continue;
        INFO(command.name);
        zq::BodyWriter body;
        body_of(body, spec, command, zq::new_job_id());
        if (command.name == "BROADCAST") body.add_value(f::targets, std::vector<std::string>{"spec"});
        raw.send(command.code, body.finish());
        auto reply = raw.receive(std::chrono::milliseconds(3000));
        // Before the peer port, a node heard its peers' membership on the client port and
        // answered them nothing; with a peer port, every peer command here is REJECTED.
        const bool membership = command.name == "HELLO" || command.name == "WELCOME" ||
                                command.name == "HEARTBEAT" || command.name == "DISCONNECT";
        if (reply || !membership || node.status().contains("security")) {
            REQUIRE(reply);
            CHECK(reply->command == 0x12);
            check_fields_documented(spec, *reply);
            if (*role == Role::sent_by_node) {
                CHECK_THAT(reply->json["why"].get<std::string>(), Catch::StartsWith("not a request:"));
            }
        }
        auto status = node.status();
        CHECK(status["jobs"] == counts);
        CHECK(status["pending"] == 0);
    }

    // Every REJECTED had a kind of the spec's table.
    auto status = node.status();
    CHECK(status["messages"]["rejected_by"]["other"] == 0);
    CHECK(status["messages"]["rejected_by"]["not a request"] == 5);

    // And the node still serves.
    zq::Client client(node.endpoint());
    auto submitted = client.submit(zq::Task("zq.noop"));
    REQUIRE(submitted);
    auto job = client.wait(submitted->id, kDeadline);
    REQUIRE(job);
    CHECK(job->state == zq::JobState::succeeded);
}
