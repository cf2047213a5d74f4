#include "workflow_plan.hpp"

#include <zq/codec.hpp>

#include <charconv>
#include <cmath>

namespace zq::node {
namespace {

// Task names, queues and node names: the decoder's bound on names.
constexpr std::size_t kMaxName = 256;

std::string packed(const msgpack::object& object) {
    msgpack::sbuffer buffer;
    msgpack::pack(buffer, object);
    return std::string(buffer.data(), buffer.size());
}

std::string_view key_of(const msgpack::object_kv& entry) {
    if (entry.key.type != msgpack::type::STR) return {};
    return {entry.key.via.str.ptr, entry.key.via.str.size};
}

std::string_view text_of(const msgpack::object& object) { return {object.via.str.ptr, object.via.str.size}; }

bool is_number(const msgpack::object& object) {
    return object.type == msgpack::type::POSITIVE_INTEGER || object.type == msgpack::type::NEGATIVE_INTEGER ||
           object.type == msgpack::type::FLOAT32 || object.type == msgpack::type::FLOAT64;
}

std::string join(const std::string& position, std::string_view part) {
    return position.empty() ? std::string(part) : position + "." + std::string(part);
}

// Turns the flow tree into steps, depth first, so that a step is numbered after every step
// it waits for.
class Planner {
public:
    Result<Plan> run(const msgpack::object& flow, std::string_view seed) {
        std::int64_t feed = -1;
        if (!seed.empty()) {
            plan_.values.push_back(PlanValue{-1, {}, std::string(seed)});
            feed = 0;
        }
        auto result = compile(flow, feed, "", Trigger::after, "flow", 0);
        if (!result) return result.failure();
        plan_.result = *result;
        return std::move(plan_);
    }

private:
    // Compiles one flow fed by `feed`; returns the index of its output value. `trigger` is
    // the condition of its entry steps (a link's or link_error's first steps).
    Result<std::int64_t> compile(const msgpack::object& flow, std::int64_t feed, const std::string& position,
                                 Trigger trigger, const std::string& where, std::size_t depth) {
        if (depth > kMaxWorkflowDepth) {
            return Error{where + ": nested deeper than " + std::to_string(kMaxWorkflowDepth) + " levels"};
        }
        if (flow.type != msgpack::type::MAP) return Error{where + ": a flow is a map ({task}, {chain}, {group} or {chord})"};
        const msgpack::object_map& map = flow.via.map;
        for (std::uint32_t i = 0; i < map.size; ++i) {
            std::string_view key = key_of(map.ptr[i]);
            if (key == "chain" || key == "group" || key == "chord") {
                if (map.size != 1) {
                    return Error{where + ": a " + std::string(key) + " map has no other key (found " +
                                 std::to_string(map.size) + " keys)"};
                }
                const msgpack::object& value = map.ptr[i].val;
                if (key == "chain") return compile_chain(value, feed, position, trigger, where + ".chain", depth);
                if (key == "group") return compile_group(value, feed, position, trigger, where + ".group", depth);
                return compile_chord(value, feed, position, trigger, where + ".chord", depth);
            }
        }
        return compile_task(map, feed, position.empty() ? "0" : position, trigger, where, depth);
    }

    Result<std::vector<const msgpack::object*>> members(const msgpack::object& list, const std::string& where) {
        if (list.type != msgpack::type::ARRAY) return Error{where + ": expected an array of flows"};
        if (list.via.array.size == 0) return Error{where + ": empty (a chain or group needs at least one step)"};
        std::vector<const msgpack::object*> items;
        for (std::uint32_t i = 0; i < list.via.array.size; ++i) items.push_back(&list.via.array.ptr[i]);
        return items;
    }

    Result<std::int64_t> compile_chain(const msgpack::object& list, std::int64_t feed, const std::string& position,
                                       Trigger trigger, const std::string& where, std::size_t depth) {
        auto items = members(list, where);
        if (!items) return items.failure();
        std::int64_t value = feed;
        for (std::size_t i = 0; i < items->size(); ++i) {
            auto out = compile(*(*items)[i], value, join(position, std::to_string(i)), i == 0 ? trigger : Trigger::after,
                               where + "[" + std::to_string(i) + "]", depth + 1);
            if (!out) return out;
            value = *out;
        }
        return value;
    }

    Result<std::int64_t> compile_group(const msgpack::object& list, std::int64_t feed, const std::string& position,
                                       Trigger trigger, const std::string& where, std::size_t depth) {
        auto items = members(list, where);
        if (!items) return items.failure();
        PlanValue group;
        for (std::size_t i = 0; i < items->size(); ++i) {
            auto out = compile(*(*items)[i], feed, join(position, std::to_string(i)), trigger,
                               where + "[" + std::to_string(i) + "]", depth + 1);
            if (!out) return out;
            group.items.push_back(static_cast<std::uint32_t>(*out));
        }
        plan_.values.push_back(std::move(group));
        return static_cast<std::int64_t>(plan_.values.size() - 1);
    }

    Result<std::int64_t> compile_chord(const msgpack::object& chord, std::int64_t feed, const std::string& position,
                                       Trigger trigger, const std::string& where, std::size_t depth) {
        if (chord.type != msgpack::type::MAP) return Error{where + ": expected {group: [...], then: FLOW}"};
        const msgpack::object* group = nullptr;
        const msgpack::object* then = nullptr;
        for (std::uint32_t i = 0; i < chord.via.map.size; ++i) {
            std::string_view key = key_of(chord.via.map.ptr[i]);
            if (key == "group") {
                group = &chord.via.map.ptr[i].val;
            } else if (key == "then") {
                then = &chord.via.map.ptr[i].val;
            } else {
                return Error{where + ": unknown key '" + std::string(key) + "' (a chord has group and then)"};
            }
        }
        if (!group || !then) return Error{where + ": a chord needs both group and then"};
        auto members_out = compile_group(*group, feed, position, trigger, where + ".group", depth);
        if (!members_out) return members_out;
        const std::size_t count = group->via.array.size;
        return compile(*then, *members_out, join(position, std::to_string(count)), Trigger::after, where + ".then",
                       depth + 1);
    }

    Result<std::int64_t> compile_task(const msgpack::object_map& map, std::int64_t feed, const std::string& position,
                                      Trigger trigger, const std::string& where, std::size_t depth) {
        if (plan_.steps.size() >= kMaxWorkflowSteps) {
            return Error{"a workflow has at most " + std::to_string(kMaxWorkflowSteps) + " steps"};
        }
        StepSpec spec;
        const msgpack::object* link = nullptr;
        const msgpack::object* link_error = nullptr;
        bool named = false;
        for (std::uint32_t i = 0; i < map.size; ++i) {
            std::string_view key = key_of(map.ptr[i]);
            const msgpack::object& value = map.ptr[i].val;
            auto wrong = [&](std::string_view expected) {
                return Error{where + ": '" + std::string(key) + "' must be " + std::string(expected)};
            };
            if (key == "task") {
                if (value.type != msgpack::type::STR || value.via.str.size == 0 || value.via.str.size > kMaxName) {
                    return wrong("a task name (a non-empty string)");
                }
                spec.task = text_of(value);
                named = true;
            } else if (key == "args") {
                if (value.type != msgpack::type::ARRAY) return wrong("an array");
                spec.args = packed(value);
            } else if (key == "kwargs") {
                if (value.type != msgpack::type::MAP) return wrong("a map");
                spec.kwargs = packed(value);
            } else if (key == "queue") {
                if (value.type != msgpack::type::STR || value.via.str.size == 0 || value.via.str.size > kMaxName) {
                    return wrong("a queue name");
                }
                spec.queue = text_of(value);
            } else if (key == "target") {
                if (value.type != msgpack::type::STR || value.via.str.size > kMaxName) return wrong("a node name");
                spec.target = text_of(value);
            } else if (key == "immutable") {
                if (value.type != msgpack::type::BOOLEAN) return wrong("true or false");
                spec.immutable = value.via.boolean;
            } else if (key == "priority") {
                if (value.type != msgpack::type::POSITIVE_INTEGER && value.type != msgpack::type::NEGATIVE_INTEGER) {
                    return wrong("an integer");
                }
                spec.priority = value.as<std::int64_t>();
            } else if (key == "retries") {
                if (value.type != msgpack::type::POSITIVE_INTEGER) return wrong("an integer >= 0");
                spec.max_retries = static_cast<std::uint32_t>(std::min<std::uint64_t>(value.via.u64, 1000));
            } else if (key == "retry_delay") {
                if (!is_number(value) || !std::isfinite(value.as<double>()) || value.as<double>() < 0) {
                    return wrong("a number of seconds >= 0");
                }
                spec.retry_delay = value.as<double>();
            } else if (key == "link") {
                link = &value;
            } else if (key == "link_error") {
                link_error = &value;
            } else {
                return Error{where + ": unknown key '" + std::string(key) +
                             "' (a step has task, args, kwargs, queue, target, immutable, priority, retries, "
                             "retry_delay, link, link_error; or is a chain, group or chord)"};
            }
        }
        if (!named) return Error{where + ": a step needs a task name (or is a chain, group or chord)"};

        const auto index = static_cast<std::uint32_t>(plan_.steps.size());
        PlanStep step;
        step.spec = std::move(spec);
        step.position = position;
        step.trigger = trigger;
        step.feed = feed;
        if (feed >= 0) collect_steps(feed, step.predecessors);
        edges_ += step.predecessors.size();
        if (edges_ > kMaxWorkflowEdges) {
            return Error{"a workflow has at most " + std::to_string(kMaxWorkflowEdges) +
                         " dependencies between steps (a group after a group multiplies them)"};
        }
        for (std::uint32_t predecessor : step.predecessors) plan_.steps[predecessor].successors.push_back(index);
        plan_.steps.push_back(std::move(step));
        plan_.values.push_back(PlanValue{index, {}});
        const auto output = static_cast<std::int64_t>(plan_.values.size() - 1);

        // Callbacks come after the step they hang on, so index order stays a replay order.
        if (link) {
            auto out = compile(*link, output, join(position, "link"), Trigger::on_success, where + ".link", depth + 1);
            if (!out) return out;
        }
        if (link_error) {
            auto out = compile(*link_error, output, join(position, "link_error"), Trigger::on_failure,
                               where + ".link_error", depth + 1);
            if (!out) return out;
        }
        return output;
    }

    // The steps a value is made of, without recursion (a value nests as deep as the flow).
    void collect_steps(std::int64_t value, std::vector<std::uint32_t>& steps) const {
        std::vector<std::int64_t> pending{value};
        while (!pending.empty()) {
            const PlanValue& each = plan_.values[static_cast<std::size_t>(pending.back())];
            pending.pop_back();
            if (each.step >= 0) {
                steps.push_back(static_cast<std::uint32_t>(each.step));
                continue;
            }
            for (auto it = each.items.rbegin(); it != each.items.rend(); ++it) pending.push_back(*it);
        }
    }

    Plan plan_;
    std::size_t edges_ = 0;
};

void write_value(msgpack::sbuffer& buffer, const Plan& plan, std::int64_t value, const ResultOf& result_of) {
    msgpack::packer<msgpack::sbuffer> packer(buffer);
    const PlanValue& each = plan.values[static_cast<std::size_t>(value)];
    if (!each.seed.empty()) {
        buffer.write(each.seed.data(), each.seed.size());
        return;
    }
    if (each.step >= 0) {
        std::string_view result = result_of(static_cast<std::uint32_t>(each.step));
        if (result.empty()) {
            packer.pack_nil();
        } else {
            buffer.write(result.data(), result.size());
        }
        return;
    }
    packer.pack_array(static_cast<std::uint32_t>(each.items.size()));
    for (std::uint32_t item : each.items) write_value(buffer, plan, item, result_of);
}

// [first, ...args]: `first` already packed, `args` a packed array.
std::string prepend(std::string_view first, std::string_view args) {
    auto handle = msgpack::unpack(args.data(), args.size());
    const msgpack::object& array = handle.get();
    const std::uint32_t count = array.type == msgpack::type::ARRAY ? array.via.array.size : 0;
    msgpack::sbuffer buffer;
    msgpack::packer<msgpack::sbuffer> packer(buffer);
    packer.pack_array(count + 1);
    buffer.write(first.data(), first.size());
    for (std::uint32_t i = 0; i < count; ++i) packer.pack(array.via.array.ptr[i]);
    return std::string(buffer.data(), buffer.size());
}

// [...first, ...args]: both packed arrays.
std::string splice(std::string_view first, std::string_view args) {
    auto head = msgpack::unpack(first.data(), first.size());
    auto tail = msgpack::unpack(args.data(), args.size());
    const msgpack::object& a = head.get();
    const msgpack::object& b = tail.get();
    const std::uint32_t na = a.type == msgpack::type::ARRAY ? a.via.array.size : 0;
    const std::uint32_t nb = b.type == msgpack::type::ARRAY ? b.via.array.size : 0;
    msgpack::sbuffer buffer;
    msgpack::packer<msgpack::sbuffer> packer(buffer);
    packer.pack_array(na + nb);
    for (std::uint32_t i = 0; i < na; ++i) packer.pack(a.via.array.ptr[i]);
    for (std::uint32_t i = 0; i < nb; ++i) packer.pack(b.via.array.ptr[i]);
    return std::string(buffer.data(), buffer.size());
}

}  // namespace

Result<Plan> plan_workflow(const msgpack::object& flow, std::string_view seed) { return Planner().run(flow, seed); }

Result<Plan> plan_workflow(std::string_view packed_flow, std::string_view seed) {
    auto handle = unpack_bounded(packed_flow);
    if (!handle) return handle.failure();
    return plan_workflow(handle->get(), seed);
}

Result<std::optional<Links>> read_links(std::string_view carried) {
    if (carried.empty()) return std::optional<Links>();
    auto handle = unpack_bounded(carried);
    if (!handle || handle->get().type != msgpack::type::MAP) return std::optional<Links>();
    const msgpack::object* links = FieldReader(handle->get()).find("links");
    if (!links) return std::optional<Links>();
    if (links->type != msgpack::type::MAP) return Error{"links must be a map {ok: [FLOW...], err: [FLOW...]}"};
    Links read;
    for (std::uint32_t i = 0; i < links->via.map.size; ++i) {
        std::string_view key = key_of(links->via.map.ptr[i]);
        const msgpack::object& list = links->via.map.ptr[i].val;
        if (key != "ok" && key != "err") return Error{"links: unknown key '" + std::string(key) + "' (ok, err)"};
        if (list.type != msgpack::type::ARRAY) return Error{"links." + std::string(key) + " must be an array of flows"};
        for (std::uint32_t j = 0; j < list.via.array.size; ++j) {
            const std::string where = "links." + std::string(key) + "[" + std::to_string(j) + "]";
            if (auto checked = plan_workflow(list.via.array.ptr[j]); !checked) {
                return Error{where + ": " + checked.error()};
            }
            (key == "ok" ? read.ok : read.err).push_back(packed(list.via.array.ptr[j]));
        }
    }
    return std::optional<Links>(std::move(read));
}

std::string step_id(std::string_view workflow, std::size_t index) {
    return std::string(workflow) + "/" + std::to_string(index);
}

std::optional<std::pair<std::string_view, std::size_t>> parse_step_id(std::string_view id) {
    const auto slash = id.rfind('/');
    if (slash == std::string_view::npos || slash == 0 || slash + 1 == id.size()) return std::nullopt;
    std::size_t index = 0;
    const char* first = id.data() + slash + 1;
    const char* last = id.data() + id.size();
    auto [end, error] = std::from_chars(first, last, index);
    if (error != std::errc{} || end != last) return std::nullopt;
    return std::make_pair(id.substr(0, slash), index);
}

std::string materialize(const Plan& plan, std::int64_t value, const ResultOf& result_of) {
    if (value < 0) return std::string(1, '\xc0');  // nil
    msgpack::sbuffer buffer;
    write_value(buffer, plan, value, result_of);
    return std::string(buffer.data(), buffer.size());
}

std::string step_args(const Plan& plan, std::uint32_t step, const ResultOf& result_of) {
    const PlanStep& each = plan.steps[step];
    if (each.spec.immutable || each.feed < 0) return each.spec.args;
    const PlanValue& feed = plan.values[static_cast<std::size_t>(each.feed)];
    if (!feed.seed.empty()) return splice(feed.seed, each.spec.args);
    return prepend(materialize(plan, each.feed, result_of), each.spec.args);
}

std::string error_callback_args(const Plan& plan, std::uint32_t step, std::string_view failed_id,
                                std::string_view error) {
    const PlanStep& each = plan.steps[step];
    if (each.spec.immutable) return each.spec.args;
    // [id, error, ...args]: the pair is spliced in front of the step's own arguments.
    auto handle = msgpack::unpack(each.spec.args.data(), each.spec.args.size());
    const msgpack::object& array = handle.get();
    const std::uint32_t count = array.type == msgpack::type::ARRAY ? array.via.array.size : 0;
    msgpack::sbuffer joined;
    msgpack::packer<msgpack::sbuffer> out(joined);
    out.pack_array(count + 2);
    out.pack(failed_id);
    out.pack(error);
    for (std::uint32_t i = 0; i < count; ++i) out.pack(array.via.array.ptr[i]);
    return std::string(joined.data(), joined.size());
}

}  // namespace zq::node
