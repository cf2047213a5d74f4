// Fuzz target: how zq-send reads what is typed on its command line (tools/zq-send).
//
// Input: NUL-separated words, as argv holds them. Each word is read three ways:
//   - as a positional argument, JSON if it parses, else the text (parse_cli_argument), and
//     packed into the task's args as zq-send sends them;
//   - as an option of `zq-send TASK`: its first byte picks which (--eta, --countdown,
//     --expires, --retries, --retry-delay, ..., --kwarg), the rest is its value, and all of
//     them go through apply_task_options() together;
// and the whole input is read as the JSON file of `zq-send workflow FILE`, packed as zq-send
// packs it and planned as the node plans it.
#include "fuzz_target.hpp"

#include "task_options.hpp"
#include "workflow_plan.hpp"

#include <zq/codec.hpp>
#include <zq/json.hpp>

#include <nlohmann/json.hpp>

#include <vector>

namespace {

std::vector<std::string_view> words_of(std::string_view input) {
    std::vector<std::string_view> words;
    for (;;) {
        const auto end = input.find('\0');
        words.push_back(input.substr(0, end));
        if (end == std::string_view::npos) return words;
        input.remove_prefix(end + 1);
    }
}

// A positional argument sent as JSON comes back from the node as the same JSON.
void positional(const std::vector<std::string_view>& words) {
    nlohmann::json args = nlohmann::json::array();
    for (std::string_view word : words) {
        nlohmann::json value = zq::parse_cli_argument(word);
        const bool parsed = !nlohmann::json::parse(word.begin(), word.end(), nullptr, false).is_discarded();
        ZQ_FUZZ_CHECK(parsed || value == nlohmann::json(std::string(word)));
        args.push_back(std::move(value));
    }
    const std::string packed = zq::pack_json(args);
    auto unpacked = zq::unpack_bounded(packed);
    if (!unpacked) return;  // nested deeper than a node accepts: the node refuses it
    ZQ_FUZZ_CHECK(unpacked->get().type == msgpack::type::ARRAY);
    (void)zq::dump_json(zq::to_json(unpacked->get()));
}

void options(const std::vector<std::string_view>& words) {
    zq::send::TaskOptions options;
    for (std::string_view word : words) {
        if (word.empty()) continue;
        std::string value(word.substr(1));
        switch (static_cast<unsigned char>(word[0]) % 16) {
        case 0: options.eta = value; break;
        case 1: options.countdown = value; break;
        case 2: options.expires = value; break;
        case 3: options.retries = value; break;
        case 4: options.retry_delay = value; break;
        case 5: options.retry_backoff = value; break;
        case 6: options.retry_backoff_max = value; break;
        case 7: options.soft_limit = value; break;
        case 8: options.hard_limit = value; break;
        case 9: options.key = value; break;
        case 10: options.on_duplicate = value; break;
        case 11: options.key_concurrency = value; break;
        case 12: options.weight = value; break;
        case 13: options.retry_jitter = !value.empty(); break;
        case 14: options.exclusive = !value.empty(); break;
        default: options.kwargs.push_back(std::move(value)); break;
        }
    }
    zq::Task task("fuzz");
    const std::int64_t now_ms = 1'700'000'000'000;
    auto applied = zq::send::apply_task_options(options, now_ms, task);
    if (!applied) {
        ZQ_FUZZ_CHECK(!applied.error().empty());
        return;
    }
    // What zq-send accepts is within what the node accepts.
    ZQ_FUZZ_CHECK(task.retry_delay >= 0 && task.soft_time_limit >= 0 && task.hard_time_limit >= 0);
    ZQ_FUZZ_CHECK(task.expires_ms == 0 || task.expires_ms > task.eta_ms);
}

void workflow_file(std::string_view input) {
    const nlohmann::json flow = nlohmann::json::parse(input, nullptr, false);
    if (flow.is_discarded() || !flow.is_object()) return;
    (void)zq::node::plan_workflow(std::string_view(zq::pack_json(flow)));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input = zq::fuzz::text_of(data, size);
    const auto words = words_of(input);
    positional(words);
    options(words);
    workflow_file(input);
    return 0;
}
