#include <zq/job.hpp>

#include <zq/codec.hpp>
#include <zq/protocol.hpp>

#include <array>

namespace zq {
namespace {
constexpr std::array<std::string_view, 12> kStateNames = {
    "pending", "accepted", "queued",   "running", "succeeded", "failed",
    "error",   "canceled", "retrying", "waiting", "scheduled", "expired",
};
}  // namespace

static_assert(kStateNames.size() == static_cast<std::size_t>(kLastJobState) + 1, "a name for every state");

std::string_view to_string(JobState state) { return kStateNames[static_cast<std::size_t>(state)]; }

std::optional<JobState> job_state_from_string(std::string_view name) {
    for (std::size_t i = 0; i < kStateNames.size(); ++i) {
        if (kStateNames[i] == name) return static_cast<JobState>(i);
    }
    return std::nullopt;
}

bool is_terminal(JobState state) {
    return state == JobState::succeeded || state == JobState::failed || state == JobState::error ||
           state == JobState::canceled || state == JobState::expired;
}

std::vector<NodeOutcome> broadcast_outcomes(const JobInfo& job) {
    namespace f = protocol::field;
    std::vector<NodeOutcome> outcomes;
    auto unpacked = unpack_bounded(job.result);
    if (!unpacked || unpacked->get().type != msgpack::type::MAP) return outcomes;
    const auto& map = unpacked->get().via.map;
    for (std::uint32_t i = 0; i < map.size; ++i) {
        const auto& entry = map.ptr[i];
        if (entry.key.type != msgpack::type::STR || entry.val.type != msgpack::type::MAP) continue;
        FieldReader fields(entry.val);
        auto state = fields.string(f::state);
        if (!state || !job_state_from_string(*state)) return {};  // not a map of outcomes
        outcomes.push_back({entry.key.as<std::string>(), *job_state_from_string(*state),
                            fields.packed(f::result).value_or(""), std::string(fields.string(f::error).value_or(""))});
    }
    return outcomes;
}

}  // namespace zq
