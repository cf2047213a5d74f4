// Fuzz target: the worker link (zq/worker_link.hpp) as either end reads it.
//
// Input: one byte that sets how the stream is cut into reads, then the bytes of the stream.
// They are fed to a FrameReader in pieces, as the socketpair delivers them; every whole frame
// is unpacked with the bounds each end uses and its fields are read as the node reads READY,
// DONE, STARTED and RETURNED (the same FieldReader calls as Pool::on_frame, which is private to
// the pool) and as the worker reads RUN (parse_run(), the worker's own reader), STOP and STEAL.
#include "fuzz_target.hpp"

#include "exec_task.hpp"
#include "run_request.hpp"

#include <zq/codec.hpp>
#include <zq/worker_link.hpp>

#include <algorithm>
#include <vector>

namespace {

namespace link = zq::worker_link;
namespace field = zq::worker_link::field;

// The node's bounds (Pool::on_frame) are the wider of the two ends'.
zq::protocol::Limits node_limits() {
    zq::protocol::Limits limits;
    limits.max_message_bytes = link::kMaxFrameBytes;
    limits.max_string_bytes = link::kMaxFrameBytes;
    return limits;
}

zq::protocol::Limits worker_limits() {
    zq::protocol::Limits limits;
    limits.max_message_bytes = link::kMaxFrameBytes;
    return limits;
}

// What the node reads of a frame from a worker.
void read_as_node(const zq::FieldReader& fields) {
    const auto operation = fields.string(field::operation).value_or("");
    if (operation == link::op::done) {
        (void)fields.string(field::id);
        (void)fields.boolean(field::ok);
        (void)fields.packed(field::result);
        (void)fields.string(field::error);
        (void)fields.boolean(field::retry);
        (void)fields.number(field::retry_countdown);
    } else if (operation == link::op::started) {
        (void)fields.string(field::id);
    } else if (operation == link::op::returned) {
        (void)fields.boolean(field::steal);
        if (const msgpack::object* ids = fields.find(field::ids); ids && ids->type == msgpack::type::ARRAY) {
            for (std::uint32_t i = 0; i < ids->via.array.size; ++i) {
                const auto& item = ids->via.array.ptr[i];
                if (item.type == msgpack::type::STR) (void)std::string_view(item.via.str.ptr, item.via.str.size);
            }
        }
    }
}

// What the worker reads of a frame from the node (worker_inbox.cpp, then parse_run() for a
// RUN as Worker::run does), with the command line of an exec task built from its arguments.
void read_as_worker(const zq::FieldReader& fields) {
    const auto operation = fields.string(field::operation).value_or("");
    if (operation == link::op::run) {
        auto id = fields.string(field::id);
        if (!id) return;
        (void)fields.boolean(field::announce);
        auto request = zq::parse_run(fields.body(), std::string(*id));
        if (!request) {
            ZQ_FUZZ_CHECK(!request.error().empty());
            return;
        }
        ZQ_FUZZ_CHECK(request->args.type == msgpack::type::ARRAY && request->kwargs.type == msgpack::type::MAP);
        ZQ_FUZZ_CHECK(request->retry_exit_code >= -1 && request->retry_exit_code <= 255);
        if (!request->exec) return;
        ZQ_FUZZ_CHECK(!request->exec->empty());
        auto argv = zq::exec_task::command_line(*request->exec, request->args);
        ZQ_FUZZ_CHECK(argv.ok() && argv->size() == request->exec->size() + request->args.via.array.size);
    } else if (operation == link::op::stop) {
        (void)fields.string(field::id);
    } else if (operation == link::op::steal) {
        (void)fields.unsigned_integer(field::count);
    }
}

void read_frame(std::string_view frame) {
    ZQ_FUZZ_CHECK(!frame.empty() && frame.size() <= link::kMaxFrameBytes);
    if (auto unpacked = zq::unpack_bounded(frame, node_limits())) {
        const zq::FieldReader fields(unpacked->get());
        read_as_node(fields);
    }
    if (auto unpacked = zq::unpack_bounded(frame, worker_limits())) {
        if (unpacked->get().type == msgpack::type::MAP) read_as_worker(zq::FieldReader(unpacked->get()));
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const std::size_t piece = 1 + data[0];
    const std::string_view stream = zq::fuzz::text_of(data + 1, size - 1);
    link::FrameReader reader;
    std::size_t fed = 0, framed = 0;
    while (fed < stream.size()) {
        const std::size_t n = std::min(piece, stream.size() - fed);
        reader.feed(stream.data() + fed, n);
        fed += n;
        for (;;) {
            auto frame = reader.next();
            if (!frame) return 0;  // corrupt: the reading end stops here, as both ends do
            if (frame->empty()) break;
            framed += 4 + frame->size();
            read_frame(*frame);
        }
    }
    // The reader hands out exactly the bytes it was fed, a whole frame at a time.
    ZQ_FUZZ_CHECK(framed <= stream.size());
    return 0;
}
