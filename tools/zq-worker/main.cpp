// zq-worker: the stock worker.
//
// zq-node starts a pool of these (unless its config names another worker program) and
// hands each one task at a time over the worker link (zq/worker_link.hpp, fd 3). Besides
// exec tasks, which are commands declared in the node's config and run by any worker,
// it serves a few built-in tasks that are handy for trying a cluster out, for tests and for
// benchmarks:
//
//   zq.noop              does nothing, returns nil; ignores its arguments
//   zq.echo ARGS...      returns its arguments array as given
//   zq.sleep SECONDS     sleeps (integer or fractional seconds), returns nil; stops with
//                        "canceled" when the node cancels the job or its soft time limit hits
//   zq.hang SECONDS      sleeps like zq.sleep but ignores cancel requests, so that operators
//                        can watch cancel_grace and hard time limits do their work
//   zq.fail [MESSAGE]    fails with MESSAGE, by default "failed on purpose"
//   zq.retry [SECONDS]   asks for another attempt (zq::Retry), after SECONDS or, without
//                        them, after the delay its job's retry policy gives
//   zq.add ARGS...       returns the sum of the numbers in its arguments, nested arrays
//                        included (a workflow's results), ignoring anything else; with the
//                        keyword argument log: PATH it appends its job id to PATH first, so
//                        that tests and benchmarks can count the runs of each step; with
//                        sleep: SECONDS it first sleeps that long (honouring cancel)
//
// Your own C++ tasks go in your own worker program: see examples/worker/main.cpp.
#include <zq/codec.hpp>
#include <zq/worker.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <string>
#include <thread>

namespace {

// How often zq.sleep looks for a cancel: the longest it keeps running after one.
constexpr std::chrono::milliseconds kSleepStep{20};

void sleep_for(const zq::TaskContext& context, double seconds, bool honour_cancel) {
    if (!std::isfinite(seconds) || seconds < 0) {
        throw zq::TaskFailure("bad arguments for " + context.name() + ": seconds must be a finite number >= 0");
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    for (;;) {
        if (honour_cancel) context.check_canceled();
        const auto now = std::chrono::steady_clock::now();
        if (now >= deadline) return;
        const auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline - now);
        std::this_thread::sleep_for(std::min<std::chrono::nanoseconds>(left, kSleepStep));
    }
}

void sleep_task(const zq::TaskContext& context, double seconds) { sleep_for(context, seconds, true); }
void hang_task(const zq::TaskContext& context, double seconds) { sleep_for(context, seconds, false); }

std::string fail_task(const zq::TaskContext& context, const msgpack::object& args, const msgpack::object&) {
    if (args.via.array.size == 0) throw zq::TaskFailure("failed on purpose");
    const msgpack::object& message = args.via.array.ptr[0];
    if (args.via.array.size > 1 || message.type != msgpack::type::STR) {
        throw zq::TaskFailure("bad arguments for " + context.name() + ": expected no argument or one message string");
    }
    throw zq::TaskFailure(std::string(message.via.str.ptr, message.via.str.size));
}

std::string retry_task(const zq::TaskContext& context, const msgpack::object& args, const msgpack::object&) {
    if (args.via.array.size == 0) throw zq::Retry();
    const msgpack::object& seconds = args.via.array.ptr[0];
    const bool number = seconds.type == msgpack::type::POSITIVE_INTEGER || seconds.type == msgpack::type::FLOAT64 ||
                        seconds.type == msgpack::type::FLOAT32;
    if (args.via.array.size > 1 || !number) {
        throw zq::TaskFailure("bad arguments for " + context.name() + ": expected no argument or one number of seconds");
    }
    throw zq::Retry(seconds.as<double>(), "retry asked for by zq.retry");
}

// Adds the numbers in `value`, looking into arrays; integer while every number is one.
void add_numbers(const msgpack::object& value, std::int64_t& integer, double& real, bool& fractional) {
    switch (value.type) {
        case msgpack::type::POSITIVE_INTEGER:
        case msgpack::type::NEGATIVE_INTEGER:
            integer += value.as<std::int64_t>();
            break;
        case msgpack::type::FLOAT32:
        case msgpack::type::FLOAT64:
            real += value.as<double>();
            fractional = true;
            break;
        case msgpack::type::ARRAY:
            for (std::uint32_t i = 0; i < value.via.array.size; ++i) {
                add_numbers(value.via.array.ptr[i], integer, real, fractional);
            }
            break;
        default: break;
    }
}

std::string add_task(const zq::TaskContext& context, const msgpack::object& args, const msgpack::object& kwargs) {
    if (kwargs.type == msgpack::type::MAP) {
        for (std::uint32_t i = 0; i < kwargs.via.map.size; ++i) {
            const auto& entry = kwargs.via.map.ptr[i];
            if (entry.key.type != msgpack::type::STR) continue;
            const std::string_view key(entry.key.via.str.ptr, entry.key.via.str.size);
            if (key == "sleep") {
                sleep_for(context, entry.val.as<double>(), true);
                continue;
            }
            if (key != "log") continue;
            if (entry.val.type != msgpack::type::STR) throw zq::TaskFailure("zq.add: log must be a file path");
            const std::string path(entry.val.via.str.ptr, entry.val.via.str.size);
            std::ofstream log(path, std::ios::app);
            log << context.id() << "\n";
            if (!log.flush()) throw zq::TaskFailure("zq.add: cannot append to " + path);
        }
    }
    std::int64_t integer = 0;
    double real = 0;
    bool fractional = false;
    add_numbers(args, integer, real, fractional);
    if (fractional) return zq::pack(real + static_cast<double>(integer));
    return zq::pack(integer);
}

}  // namespace

int main(int argc, char** argv) {
    zq::Worker worker;
    worker.raw_task("zq.noop", [](const zq::TaskContext&, const msgpack::object&, const msgpack::object&) {
        return zq::pack(msgpack::type::nil_t());
    });
    worker.raw_task("zq.echo", [](const zq::TaskContext&, const msgpack::object& args, const msgpack::object&) {
        return zq::pack(args);
    });
    worker.task("zq.sleep", sleep_task);
    worker.task("zq.hang", hang_task);
    worker.raw_task("zq.fail", fail_task);
    worker.raw_task("zq.retry", retry_task);
    worker.raw_task("zq.add", add_task);
    return worker.run(argc, argv);
}
