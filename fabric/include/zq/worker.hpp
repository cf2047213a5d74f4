// The worker API: write tasks in C++ and serve them to a zq-node.
//
//   int main(int argc, char** argv) {
//       zq::Worker worker;
//       worker.task("math.add", [](int a, int b) { return a + b; });
//       worker.task("report.build", [](const zq::TaskContext& ctx, std::string name) {
//           for (...) { if (ctx.cancel_requested()) throw zq::TaskFailure("canceled"); ... }
//           return std::string("done");
//       });
//       return worker.run(argc, argv);
//   }
//
// The node spawns the worker with the worker link (worker_link.hpp) on fd 3 and sends one
// task at a time. Arguments are converted from the msgpack args array to the handler's
// parameter types; the return value is packed as the result. A handler fails its job by
// throwing (TaskFailure or any std::exception: its what() is the error), and asks for
// another attempt by throwing Retry. A task name the
// worker does not know fails with "unknown task NAME" and the worker lives on.
//
// Exec tasks (declared in the node's config) arrive with an argv and are run by the worker
// itself: never through a shell, in their own process group, output captured and bounded.
#pragma once

#include <msgpack.hpp>

#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

namespace zq {

// Thrown by a task to fail its job with this message.
class TaskFailure : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Thrown by a task to ask for another attempt, after `countdown` seconds (negative: after the
// delay its job's retry policy gives). The attempt counts against the job's retries; when
// they are used up the job fails with `reason`. An exec task asks the same by exiting with
// its [tasks.NAME] retry_exit_code.
class Retry : public std::runtime_error {
public:
    explicit Retry(double countdown = -1, const std::string& reason = "the task asked for a retry")
        : std::runtime_error(reason), countdown_(countdown) {}
    double countdown() const { return countdown_; }

private:
    double countdown_;
};

// What a running task may ask about itself.
class TaskContext {
public:
    TaskContext(std::string id, std::string name) : id_(std::move(id)), name_(std::move(name)) {}
    const std::string& id() const { return id_; }
    const std::string& name() const { return name_; }
    // True once the node asked this task to stop (cancel or soft time limit: SIGUSR1). The
    // request is forgotten when the worker takes its next task.
    bool cancel_requested() const;
    // Throws TaskFailure("canceled") when a stop was requested: call at safe points.
    void check_canceled() const;

private:
    std::string id_;
    std::string name_;
};

namespace detail {
template <class F>
struct handler_traits : handler_traits<decltype(&std::decay_t<F>::operator())> {};
template <class C, class R, class... A>
struct handler_traits<R (C::*)(A...) const> {
    using result = R;
    using arguments = std::tuple<std::decay_t<A>...>;
};
template <class C, class R, class... A>
struct handler_traits<R (C::*)(A...)> : handler_traits<R (C::*)(A...) const> {};
template <class R, class... A>
struct handler_traits<R (*)(A...)> {
    using result = R;
    using arguments = std::tuple<std::decay_t<A>...>;
};

template <class Tuple>
struct takes_context : std::false_type {};
template <class... Rest>
struct takes_context<std::tuple<TaskContext, Rest...>> : std::true_type {};

template <class Tuple>
struct drop_first;
template <class First, class... Rest>
struct drop_first<std::tuple<First, Rest...>> {
    using type = std::tuple<Rest...>;
};

// Reading typed arguments. msgpack-c's own tuple conversion leaves missing arguments at
// their default and ignores extra ones, so the count is checked here, and each argument is
// converted on its own so that a failure names the argument and what it was.

// "a string", "an integer"...: what a msgpack value is, for error messages.
const char* kind_of(const msgpack::object& value);

// What a parameter of type T expects, in the same words.
template <class T>
constexpr const char* expected_kind() {
    if constexpr (std::is_same_v<T, bool>) return "a boolean";
    else if constexpr (std::is_integral_v<T>) return "an integer";
    else if constexpr (std::is_floating_point_v<T>) return "a number";
    else if constexpr (std::is_same_v<T, std::string>) return "a string";
    else return "a value of the parameter's type";
}

[[noreturn]] void throw_bad_arguments(const TaskContext& context, const std::string& why);

template <class T>
T read_argument(const TaskContext& context, const msgpack::object& value, std::size_t position) {
    try {
        return value.as<T>();
    } catch (const msgpack::type_error&) {
        const std::string expected = expected_kind<T>();
        const std::string got = kind_of(value);
        throw_bad_arguments(context, "argument " + std::to_string(position + 1) +
                                         (expected == got ? " (" + got + ") does not fit its parameter"
                                                          : " must be " + expected + ", got " + got));
    }
}

template <class Tuple, std::size_t... I>
Tuple read_arguments(const TaskContext& context, const msgpack::object& args, const msgpack::object& kwargs,
                     std::index_sequence<I...>) {
    if (args.type != msgpack::type::ARRAY) throw_bad_arguments(context, "the arguments must be an array");
    if (args.via.array.size != sizeof...(I)) {
        throw_bad_arguments(context, "expected " + std::to_string(sizeof...(I)) + " argument(s), got " +
                                         std::to_string(args.via.array.size));
    }
    if (kwargs.type == msgpack::type::MAP && kwargs.via.map.size > 0) {
        throw_bad_arguments(context, "the task takes no keyword arguments");
    }
    // Braced initialisation converts the arguments in order, first to last.
    return Tuple{read_argument<std::tuple_element_t<I, Tuple>>(context, args.via.array.ptr[I], I)...};
}

template <class Tuple>
Tuple read_arguments(const TaskContext& context, const msgpack::object& args, const msgpack::object& kwargs) {
    return read_arguments<Tuple>(context, args, kwargs, std::make_index_sequence<std::tuple_size_v<Tuple>>{});
}
}  // namespace detail

class Worker {
public:
    // Returns the packed msgpack result. args is the msgpack array, kwargs the map.
    using RawHandler =
        std::function<std::string(const TaskContext&, const msgpack::object& args, const msgpack::object& kwargs)>;

    Worker();

    // Registers a raw handler that reads args/kwargs itself.
    Worker& raw_task(std::string name, RawHandler handler);

    // Registers a typed handler: its parameters (after an optional `const TaskContext&`)
    // are read from the positional arguments; a wrong count or type, or keyword arguments,
    // fail the job with "bad arguments for NAME: ...".
    template <class F>
    Worker& task(std::string name, F handler) {
        using traits = detail::handler_traits<F>;
        using all_args = typename traits::arguments;
        return raw_task(std::move(name), [handler = std::move(handler)](const TaskContext& context,
                                                                        const msgpack::object& args,
                                                                        const msgpack::object& kwargs) {
            if constexpr (detail::takes_context<all_args>::value) {
                using rest = typename detail::drop_first<all_args>::type;
                auto values = detail::read_arguments<rest>(context, args, kwargs);
                return invoke_packed([&] {
                    return std::apply([&](auto&&... a) { return handler(context, a...); }, values);
                });
            } else {
                auto values = detail::read_arguments<all_args>(context, args, kwargs);
                return invoke_packed([&] { return std::apply(handler, values); });
            }
        });
    }

    // Serves tasks until the node closes the link. Returns the process exit code.
    int run(int argc, char** argv);

private:
    template <class Call>
    static std::string invoke_packed(Call call) {
        using R = decltype(call());
        msgpack::sbuffer buffer;
        if constexpr (std::is_void_v<R>) {
            call();
            msgpack::pack(buffer, msgpack::type::nil_t());
        } else {
            msgpack::pack(buffer, call());
        }
        return std::string(buffer.data(), buffer.size());
    }

    std::map<std::string, RawHandler, std::less<>> handlers_;
};

}  // namespace zq
