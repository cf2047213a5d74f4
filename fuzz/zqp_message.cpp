// Fuzz target: the ZQP/1 decoder and the readers of every command's body.
//
// Input: the command byte, then the msgpack body. The body goes through zq::decode() as the
// client and peer ports receive it; what decodes is then read by the same functions the node
// uses for that command (the task envelope, a workflow's flow, the key bodies, the published
// streams), and every accepted envelope is written back out as the node would send it on
// (FORWARD, STATE) and must decode again: a job the node accepted and then could not forward
// would be stuck.
#include "fuzz_target.hpp"

#include "key_messages.hpp"
#include "message_bodies.hpp"
#include "workflow_plan.hpp"

#include <zq/codec.hpp>
#include <zq/events.hpp>
#include <zq/json.hpp>
#include <zq/task.hpp>

namespace {

namespace f = zq::protocol::field;
using zq::protocol::Command;

// The limits the node decodes with (Config::limits defaults to these).
const zq::protocol::Limits kLimits{};

zq::Result<zq::Message> decode_as(Command command, std::string_view body) {
    const char code = static_cast<char>(command);
    return zq::decode(zq::protocol::kHeader, std::string_view(&code, 1), body, kLimits);
}

// Every field of the command's table, through the typed reader for its type: decode() has
// checked the types, so each reader must find what the table promises.
void read_every_field(const zq::Message& message) {
    const zq::protocol::CommandSpec* spec = zq::protocol::find_command(static_cast<std::uint8_t>(message.command()));
    ZQ_FUZZ_CHECK(spec != nullptr);
    for (const auto& field : spec->fields) {
        if (!message.find(field.name)) {
            ZQ_FUZZ_CHECK(!field.required);
            continue;
        }
        using zq::protocol::FieldType;
        switch (field.type) {
        case FieldType::string: ZQ_FUZZ_CHECK(message.string(field.name).has_value()); break;
        case FieldType::unsigned_integer: ZQ_FUZZ_CHECK(message.unsigned_integer(field.name).has_value()); break;
        case FieldType::integer: (void)message.integer(field.name); break;
        case FieldType::number: ZQ_FUZZ_CHECK(message.number(field.name).has_value()); break;
        case FieldType::boolean: ZQ_FUZZ_CHECK(message.boolean(field.name).has_value()); break;
        case FieldType::array:
        case FieldType::map:
        case FieldType::any: ZQ_FUZZ_CHECK(message.packed(field.name).has_value()); break;
        }
    }
}

// SUBMIT, FORWARD and BROADCAST: the envelope, the job the node journals from it, and the
// messages it writes about that job.
void read_envelope(const zq::Message& message, std::size_t body_size) {
    auto task = zq::read_task(message, kLimits);
    if (!task) return;
    zq::node::JobRecord job = zq::node::record_from(std::move(*task), 1'700'000'000'000, "fuzz-node");
    (void)zq::node::workflow_of(job);
    (void)zq::node::read_links(job.carried);
    const zq::Task again = zq::node::task_from(job);
    ZQ_FUZZ_CHECK(again.id == job.id && again.name == job.task);
    // A body well under the limit stays under it when the node adds its own fields.
    if (body_size < kLimits.max_message_bytes / 2) {
        auto forwarded = decode_as(Command::forward, zq::node::forward_body(job, "fuzz-origin"));
        if (!forwarded) std::fprintf(stderr, "FORWARD of an accepted job: %s\n", forwarded.error().c_str());
        ZQ_FUZZ_CHECK(forwarded.ok());
        auto reread = zq::read_task(*forwarded, kLimits);
        ZQ_FUZZ_CHECK(reread.ok() && reread->id == job.id);
        auto state = decode_as(Command::state, zq::node::job_body(job));
        ZQ_FUZZ_CHECK(state.ok());
    }
}

void read_workflow(const zq::Message& message) {
    const msgpack::object* flow = message.find(f::flow);
    ZQ_FUZZ_CHECK(flow != nullptr);
    (void)zq::node::plan_workflow(*flow);
}

void read_key_bodies(const zq::Message& message) {
    if (message.command() == Command::key_answer) {
        auto answers = zq::node::read_key_answers(message);
        ZQ_FUZZ_CHECK(decode_as(Command::key_answer, zq::node::key_answer_body("fuzz-node", answers)).ok());
        return;
    }
    auto requests = zq::node::read_key_requests(message);
    const Command command = message.command();
    const std::string body = command == Command::key_acquire ? zq::node::key_acquire_body("fuzz-node", requests, false)
                                                             : zq::node::key_release_body("fuzz-node", requests);
    ZQ_FUZZ_CHECK(decode_as(command, body).ok());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const char command = static_cast<char>(data[0]);
    const std::string_view body = zq::fuzz::text_of(data + 1, size - 1);
    auto message = zq::decode(zq::protocol::kHeader, std::string_view(&command, 1), body, kLimits);
    if (!message) {
        ZQ_FUZZ_CHECK(!message.error().empty());
        return 0;
    }
    read_every_field(*message);
    switch (message->command()) {
    case Command::submit:
    case Command::forward: read_envelope(*message, body.size()); break;
    case Command::broadcast:
        read_envelope(*message, body.size());
        (void)zq::event_from_message(*message);
        break;
    case Command::workflow: read_workflow(*message); break;
    case Command::key_acquire:
    case Command::key_answer:
    case Command::key_release: read_key_bodies(*message); break;
    case Command::event:
    case Command::tap: ZQ_FUZZ_CHECK(zq::event_from_message(*message).ok()); break;
    default: break;
    }
    // As zq-trace and zq-send print what they receive.
    (void)zq::dump_json(zq::to_json(message->body()));
    return 0;
}
