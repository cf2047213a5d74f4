// Fuzz target: the decoders of what nodes publish and of what is kept of it.
//
// Input: one byte that picks the decoder, then its input:
//   0  EVENT, TAP or BROADCAST (next byte) and its msgpack body, as a subscriber reads the
//      fanout: decoded, filtered, printed and recorded by zq-trace, and read back from the
//      recording;
//   1  a history entry (next byte picks the command name) as CONTROL `history` returns it;
//   2  a broadcast's packed outcomes {NODE: {st, res?, err?}}, as the origin journals them and
//      reads them back after a restart;
//   3  one line of a zq-trace recording (--replay).
#include "fuzz_target.hpp"

#include "broadcast_collector.hpp"
#include "event_format.hpp"

#include <zq/codec.hpp>
#include <zq/events.hpp>

#include <nlohmann/json.hpp>

namespace {

using zq::protocol::Command;

constexpr Command kPublished[] = {Command::event, Command::tap, Command::broadcast};

// What zq-trace does with an event: filter it, print it, record it and read the record back.
void show(const zq::Event& event) {
    zq::EventFilter filter;
    filter.states = {"failed"};
    filter.commands = {"submit"};
    filter.job = event.id.empty() ? "x" : event.id.substr(0, event.id.size() / 2);
    (void)filter.matches(event);
    (void)zq::EventFilter{}.matches(event);
    (void)zq::trace::format_line(event, "+1.0ms");
    const nlohmann::json recorded = zq::trace::event_to_json(event);
    (void)zq::trace::render(event, true);
    auto replayed = zq::trace::event_from_json(recorded);
    // A recording reads back as the event that was recorded (a nameless publisher is refused).
    if (!event.node.empty()) {
        ZQ_FUZZ_CHECK(replayed.ok());
        ZQ_FUZZ_CHECK(replayed->kind == event.kind && replayed->seq == event.seq);
    }
}

void published(std::string_view input) {
    if (input.empty()) return;
    const char code = static_cast<char>(kPublished[static_cast<unsigned char>(input[0]) % 3]);
    auto message = zq::decode(zq::protocol::kHeader, std::string_view(&code, 1), input.substr(1));
    if (!message) return;
    auto event = zq::event_from_message(*message);
    if (event) show(*event);
}

void history(std::string_view input) {
    if (input.empty()) return;
    const auto& spec = zq::protocol::kCommands[static_cast<unsigned char>(input[0]) % std::size(zq::protocol::kCommands)];
    auto body = zq::unpack_bounded(input.substr(1));
    if (!body) return;
    auto event = zq::event_from_history(spec.name, body->get());
    if (event) show(*event);
}

void outcomes(std::string_view input) {
    const zq::node::Outcomes read = zq::node::unpack_outcomes(input);
    // What is read is written back and reads the same.
    ZQ_FUZZ_CHECK(zq::node::unpack_outcomes(zq::node::pack_outcomes(read)) == read);
    zq::node::BroadcastCollector collector("fuzz-node", zq::protocol::Limits{}.max_message_bytes);
    collector.restore("b1", input);
    (void)collector.pending_nodes();
    for (const auto& [node, outcome] : read) {
        (void)collector.record("b1", node, zq::JobState::succeeded, std::string_view("\xc0", 1), "");
    }
    (void)collector.due(1'000'000, 1'000);
}

void recording(std::string_view input) {
    const nlohmann::json object = nlohmann::json::parse(input, nullptr, false);
    if (object.is_discarded()) return;
    auto event = zq::trace::event_from_json(object);
    if (event) {
        (void)zq::trace::format_line(*event);
        (void)zq::trace::render(*event, true);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const std::string_view input = zq::fuzz::text_of(data + 1, size - 1);
    switch (data[0] % 4) {
    case 0: published(input); break;
    case 1: history(input); break;
    case 2: outcomes(input); break;
    case 3: recording(input); break;
    }
    return 0;
}
