#include "key_messages.hpp"

#include <zq/job.hpp>

#include <algorithm>
#include <cstdint>

namespace zq::node {
namespace {

namespace f = protocol::field;

void pack_text(msgpack::packer<msgpack::sbuffer>& packer, std::string_view key, std::string_view value) {
    packer.pack(key);
    packer.pack(value);
}

// The items of a body's `jobs` array that are maps, each read with a FieldReader.
template <class Read>
void for_each_item(const Message& message, Read&& read) {
    const msgpack::object* items = message.find(f::jobs);
    if (!items || items->type != msgpack::type::ARRAY) return;
    for (std::uint32_t i = 0; i < items->via.array.size; ++i) {
        const msgpack::object& item = items->via.array.ptr[i];
        if (item.type != msgpack::type::MAP) continue;
        FieldReader fields(item);
        auto id = fields.string(f::id);
        auto key = fields.string(f::key);
        if (!id || !key || id->empty() || key->empty()) continue;
        read(fields, std::string(*id), std::string(*key));
    }
}

}  // namespace

std::string key_acquire_body(std::string_view node, const std::vector<KeyRequest>& requests, bool all) {
    BodyWriter body;
    body.add(f::node, node);
    if (all) body.add(f::all, true);
    auto& packer = body.begin(f::jobs);
    packer.pack_array(static_cast<std::uint32_t>(requests.size()));
    for (const KeyRequest& request : requests) {
        packer.pack_map(request.held ? 5 : 4);
        pack_text(packer, f::id, request.id);
        pack_text(packer, f::key, request.lock);
        pack_text(packer, f::unique_policy, to_string(request.policy));
        packer.pack(f::limit);
        packer.pack(static_cast<std::uint64_t>(request.limit));
        if (request.held) {
            packer.pack(f::held);
            packer.pack(true);
        }
    }
    return std::string(body.finish());
}

std::string key_answer_body(std::string_view node, const std::vector<KeyAnswer>& answers) {
    BodyWriter body;
    body.add(f::node, node);
    auto& packer = body.begin(f::jobs);
    packer.pack_array(static_cast<std::uint32_t>(answers.size()));
    for (const KeyAnswer& answer : answers) {
        packer.pack_map(3 + (answer.why.empty() ? 0 : 1) + (answer.dedup.empty() ? 0 : 1));
        pack_text(packer, f::id, answer.id);
        pack_text(packer, f::key, answer.lock);
        pack_text(packer, f::state, to_string(answer.verdict));
        if (!answer.why.empty()) pack_text(packer, f::reason, answer.why);
        if (!answer.dedup.empty()) pack_text(packer, f::dedup, answer.dedup);
    }
    return std::string(body.finish());
}

std::string key_release_body(std::string_view node, const std::vector<KeyRequest>& released) {
    BodyWriter body;
    body.add(f::node, node);
    auto& packer = body.begin(f::jobs);
    packer.pack_array(static_cast<std::uint32_t>(released.size()));
    for (const KeyRequest& each : released) {
        packer.pack_map(2);
        pack_text(packer, f::id, each.id);
        pack_text(packer, f::key, each.lock);
    }
    return std::string(body.finish());
}

std::vector<KeyRequest> read_key_requests(const Message& message) {
    std::string origin(message.string(f::node).value_or(""));
    std::vector<KeyRequest> requests;
    for_each_item(message, [&](const FieldReader& fields, std::string id, std::string key) {
        KeyRequest request{std::move(id), std::move(key), origin, KeyPolicy::parallel, 1, false};
        if (auto policy = fields.string(f::unique_policy)) {
            request.policy = key_policy_from_string(*policy).value_or(KeyPolicy::parallel);
        }
        if (auto limit = fields.unsigned_integer(f::limit)) {
            request.limit = static_cast<std::uint32_t>(std::clamp<std::uint64_t>(*limit, 1, UINT32_MAX));
        }
        request.held = fields.boolean(f::held).value_or(false);
        requests.push_back(std::move(request));
    });
    return requests;
}

std::vector<KeyAnswer> read_key_answers(const Message& message) {
    std::string home(message.string(f::node).value_or(""));
    std::vector<KeyAnswer> answers;
    for_each_item(message, [&](const FieldReader& fields, std::string id, std::string key) {
        std::string_view state = fields.string(f::state).value_or("");
        KeyVerdict verdict = state == "granted"   ? KeyVerdict::granted
                             : state == "dropped" ? KeyVerdict::dropped
                                                  : KeyVerdict::waiting;
        answers.push_back({home, std::move(id), std::move(key), verdict,
                           std::string(fields.string(f::reason).value_or("")),
                           std::string(fields.string(f::dedup).value_or(""))});
    });
    return answers;
}

std::string dropped_accepted_body(std::string_view id, std::string_view node, std::string_view dedup) {
    BodyWriter body;
    body.add(f::id, id).add(f::state, to_string(JobState::canceled)).add(f::node, node).add(f::dedup, dedup);
    return std::string(body.finish());
}

}  // namespace zq::node
