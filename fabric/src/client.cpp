// The client API: one DEALER socket to the local zq-node (see client.hpp).
//
// Every call is a request followed by a loop that receives until the reply it waits for
// arrives or its deadline passes. Whatever else arrives meanwhile is kept, not dropped:
// ACCEPTED, REJECTED and STATE messages go to a bounded list of unclaimed replies that
// next_reply() hands out first and wait() searches, so a STATE that arrives while the client
// waits for something else makes a later wait() on that job return at once. The only thing
// dropped is a CONTROL-REPLY whose request already gave up (its rid is no longer awaited).
//
// Outgoing messages go through an outbox: the socket has ZMQ_IMMEDIATE set, so it takes
// nothing until a node is connected, and post() must not block. The outbox is flushed by
// every call that receives. A call that times out withdraws its own message if it was never
// sent, so a late node never runs a task whose submit() reported failure.
#include <zq/client.hpp>
#include <zq/curve.hpp>

#include <zq/defaults.hpp>
#include <zq/protocol.hpp>
#include <zq/wire.hpp>

#include <zmq.hpp>

#include <cerrno>
#include <cstdio>
#include <exception>
#include <tuple>

namespace zq {

namespace {

namespace f = protocol::field;
using protocol::Command;
using Clock = std::chrono::steady_clock;

// How many replies nobody has claimed yet the client keeps; past it the oldest goes. A
// caller that pipelines claims its replies with next_reply() as they come, so this only
// fills when replies arrive for work the caller no longer follows.
constexpr std::size_t kMaxUnclaimedReplies = 4096;

std::string seconds_text(Milliseconds timeout) {
    char text[32];
    std::snprintf(text, sizeof text, "%.1fs", static_cast<double>(timeout.count()) / 1000.0);
    return text;
}

// The first of the names that the map has: job maps in CONTROL-REPLY data may spell fields
// as the wire does ("st", "res", "err") or as zq's JSON does ("state", "result", "error").
template <class Read>
auto read_either(const FieldReader& fields, std::string_view wire_name, std::string_view json_name, Read read) {
    auto value = read(fields, wire_name);
    if (!value) value = read(fields, json_name);
    return value;
}

std::optional<std::string_view> read_string(const FieldReader& fields, std::string_view key) {
    return fields.string(key);
}

std::optional<std::string> read_packed(const FieldReader& fields, std::string_view key) {
    return fields.packed(key);
}

Result<JobState> read_state(const FieldReader& fields, std::string_view id) {
    auto name = read_either(fields, f::state, "state", read_string);
    if (!name) return Error{"zq-node sent no state for job " + std::string(id)};
    auto state = job_state_from_string(*name);
    if (!state) {
        return Error{"zq-node sent an unknown state '" + std::string(*name) + "' for job " + std::string(id) +
                     ": is the node newer than this client?"};
    }
    return *state;
}

// A job from a STATE body or from the job map in a CONTROL-REPLY's data: the same fields.
std::string text_or_empty(const msgpack::object& object) {
    return object.type == msgpack::type::STR ? std::string(object.via.str.ptr, object.via.str.size) : std::string();
}

// `wf: [workflow, position]` of a step, and `steps` of a workflow.
void read_workflow_fields(const FieldReader& fields, JobInfo& job) {
    if (const msgpack::object* workflow = fields.find(f::workflow);
        workflow && workflow->type == msgpack::type::ARRAY && workflow->via.array.size >= 2) {
        job.workflow = text_or_empty(workflow->via.array.ptr[0]);
        job.step = text_or_empty(workflow->via.array.ptr[1]);
    }
    const msgpack::object* steps = fields.find(f::steps);
    if (!steps || steps->type != msgpack::type::ARRAY) return;
    for (std::uint32_t i = 0; i < steps->via.array.size; ++i) {
        const msgpack::object& each = steps->via.array.ptr[i];
        if (each.type != msgpack::type::MAP) continue;
        FieldReader step(each);
        StepInfo info;
        info.id = std::string(step.string(f::id).value_or(""));
        info.node = std::string(step.string(f::node).value_or(""));
        info.state = job_state_from_string(step.string(f::state).value_or("")).value_or(JobState::pending);
        info.step = std::string(step.string(f::step).value_or(""));
        info.task = std::string(step.string(f::task).value_or(""));
        job.steps.push_back(std::move(info));
    }
}

Result<JobInfo> read_job(const FieldReader& fields) {
    JobInfo job;
    auto id = fields.string(f::id);
    if (!id) return Error{"zq-node sent a job without an id"};
    job.id = std::string(*id);
    auto state = read_state(fields, job.id);
    if (!state) return state.failure();
    job.state = *state;
    job.result = read_either(fields, f::result, "result", read_packed).value_or(std::string());
    job.error = std::string(read_either(fields, f::error, "error", read_string).value_or(""));
    job.node = std::string(fields.string(f::node).value_or(""));
    job.task = std::string(fields.string(f::task).value_or(""));
    job.eta_ms = static_cast<std::int64_t>(fields.unsigned_integer(f::eta).value_or(0));
    job.expires_ms = static_cast<std::int64_t>(fields.unsigned_integer(f::expires).value_or(0));
    job.next_attempt_ms = static_cast<std::int64_t>(fields.unsigned_integer(f::next_attempt).value_or(0));
    job.attempts = static_cast<std::uint32_t>(fields.unsigned_integer(f::attempts).value_or(0));
    read_workflow_fields(fields, job);
    return job;
}

Result<JobInfo> read_job_data(const Message& reply) {
    const msgpack::object* data = reply.find(f::data);
    if (data == nullptr || data->type != msgpack::type::MAP) return Error{"zq-node's reply carries no job"};
    return read_job(FieldReader(*data));
}

// ACCEPTED, REJECTED or STATE as a Reply; an error for any other command.
Result<Reply> read_reply(const Message& message) {
    switch (message.command()) {
    case Command::accepted: {
        Submitted submitted;
        submitted.id = std::string(message.string(f::id).value_or(""));
        auto state = read_state(message, submitted.id);
        if (!state) return state.failure();
        submitted.state = *state;
        submitted.node = std::string(message.string(f::node).value_or(""));
        submitted.duplicate = message.boolean(f::duplicate).value_or(false);
        submitted.dedup = std::string(message.string(f::dedup).value_or(""));
        return Reply(Accepted{std::move(submitted)});
    }
    case Command::rejected:
        return Reply(Rejected{std::string(message.string(f::id).value_or("")),
                              std::string(message.string(f::reason).value_or("no reason given"))});
    case Command::state: {
        auto job = read_job(message);
        if (!job) return job.failure();
        return Reply(StateReport{std::move(*job)});
    }
    default:
        return Error{"zq-node sent " + std::string(protocol::command_name(message.command())) +
                     ", which is not a reply to a client"};
    }
}

}  // namespace

struct Client::Impl {
    struct Outgoing {
        std::uint64_t sequence;
        Command command;
        std::string body;
    };

    std::string endpoint;
    // Set when the socket could not be made (a malformed endpoint): every call returns it.
    std::optional<Error> broken;
    std::unique_ptr<zmq::context_t> context;
    zmq::socket_t socket;

    std::deque<Outgoing> outbox;
    std::uint64_t last_sequence = 0;
    std::uint64_t last_request_id = 0;
    std::deque<Reply> unclaimed;
    // Every message received from the node, well-formed or not: a sign that it is alive.
    std::uint64_t messages_received = 0;

    Impl(std::string endpoint_, const Credentials& credentials) : endpoint(std::move(endpoint_)) {
        if (endpoint.empty()) endpoint = default_node_endpoint();
        try {
            context = std::make_unique<zmq::context_t>();
            socket = zmq::socket_t(*context, zmq::socket_type::dealer);
            // Unsent messages die with the client instead of keeping the process alive.
            socket.set(zmq::sockopt::linger, 0);
            // Queue nothing for a node that is not connected, so a missing node shows up as
            // a timeout (the outbox keeps the message) rather than a silent queue.
            socket.set(zmq::sockopt::immediate, true);
            // Replies are bounded by what the caller asked for; never make the node wait.
            socket.set(zmq::sockopt::rcvhwm, 0);
            // CURVE on tcp when credentials are given; a node that refuses the key never
            // answers, which shows up as ErrorCode::unreachable.
            prepare_connection(socket, endpoint, credentials);
            socket.connect(endpoint);
        } catch (const zmq::error_t& error) {
            broken = Error{"cannot use zq-node endpoint '" + endpoint + "': " + error.what() +
                               " (expected ipc:///path/node.sock or tcp://host:port)",
                           ErrorCode::bad_input};
        }
    }

    std::string no_answer_text(Milliseconds timeout) const {
        const std::string head = "no answer from zq-node at " + endpoint + " within " + seconds_text(timeout);
        // A node that answered this client before is more likely stopped or overloaded than
        // misnamed.
        if (messages_received > 0) return head + ": it answered before; has it stopped, or is it overloaded?";
        return head + ": is it running? (set ZQ_NODE or --node)";
    }

    // The error for a call whose answer did not come: unreachable when the node said nothing
    // at all during the call, timed_out when it is alive but did not answer this.
    Error no_answer(Milliseconds timeout, std::uint64_t received_before, const std::string& what) const {
        if (messages_received == received_before) return Error{no_answer_text(timeout), ErrorCode::unreachable};
        return Error{"zq-node at " + endpoint + " is alive but did not " + what + " within " + seconds_text(timeout),
                     ErrorCode::timed_out};
    }

    // Sends the message, or keeps it in the outbox behind those still waiting there. A message
    // with nothing ahead of it goes straight from the caller's buffer: it is copied only when
    // the socket cannot take it now.
    std::uint64_t enqueue(Command command, std::string_view body) {
        ++last_sequence;
        flush();
        if (!outbox.empty() || !send_message(socket, command, body)) {
            outbox.push_back(Outgoing{last_sequence, command, std::string(body)});
        }
        return last_sequence;
    }

    // Removes a message that was never sent, so that it is not sent after its call gave up.
    // Returns whether it was still there.
    bool withdraw(std::uint64_t sequence) {
        for (auto it = outbox.begin(); it != outbox.end(); ++it) {
            if (it->sequence == sequence) {
                outbox.erase(it);
                return true;
            }
        }
        return false;
    }

    // Sends what the outbox holds, oldest first, until the socket takes no more. No
    // getsockopt(ZMQ_EVENTS) first: it costs system calls on every message, and a send that
    // cannot go fails as cleanly. With ZMQ_IMMEDIATE and no node connected the DEALER refuses the
    // first frame; at its high-water mark too, and zmq counts that mark in whole messages, so a
    // message whose first frame went goes whole.
    void flush() {
        while (!outbox.empty()) {
            const Outgoing& next = outbox.front();
            if (!send_message(socket, next.command, next.body)) return;
            outbox.pop_front();
        }
    }

    // The next well-formed message from the node, or nullopt once the deadline passes.
    // Malformed messages are counted as signs of life and skipped.
    std::optional<Message> receive(Clock::time_point deadline) {
        for (;;) {
            flush();
            if (auto received = receive_message(socket, false)) {
                ++messages_received;
                if (received->message) return std::move(received->message.value());
                continue;
            }
            const auto now = Clock::now();
            if (now >= deadline) return std::nullopt;
            // Rounded up, so that a wait below a millisecond does not spin.
            const auto left = std::chrono::ceil<Milliseconds>(deadline - now);
            const short events = static_cast<short>(ZMQ_POLLIN | (outbox.empty() ? 0 : ZMQ_POLLOUT));
            zmq_pollitem_t item{socket.handle(), 0, events, 0};
            try {
                zmq::poll(&item, 1, left);
            } catch (const zmq::error_t& error) {
                if (error.num() != EINTR) throw;
            }
        }
    }

    // Keeps a message the current call does not wait for.
    void keep(const Message& message) {
        if (message.command() == Command::control_reply) return;  // its request gave up
        auto reply = read_reply(message);
        if (!reply) return;
        unclaimed.push_back(std::move(*reply));
        if (unclaimed.size() > kMaxUnclaimedReplies) unclaimed.pop_front();
    }

    // A terminal STATE for the job that arrived while the client waited for something else.
    std::optional<JobInfo> take_unclaimed_state(std::string_view id) {
        for (auto it = unclaimed.begin(); it != unclaimed.end(); ++it) {
            const auto* report = std::get_if<StateReport>(&*it);
            if (report != nullptr && report->job.id == id && report->job.terminal()) {
                JobInfo job = report->job;
                unclaimed.erase(it);
                return job;
            }
        }
        return std::nullopt;
    }

    // Sends a CONTROL or CANCEL with a fresh rid; returns the rid and the outbox sequence.
    std::pair<std::uint64_t, std::uint64_t> send_request(Command command, BodyWriter& body) {
        const std::uint64_t rid = ++last_request_id;
        body.add(f::request_id, rid);
        return {rid, enqueue(command, body.finish())};
    }

    // Sends the request and waits for the CONTROL-REPLY carrying its rid.
    Result<Message> request(Command command, BodyWriter& body, Milliseconds timeout, const std::string& what) {
        const auto deadline = Clock::now() + timeout;
        const auto received_before = messages_received;
        const auto [rid, sequence] = send_request(command, body);
        while (auto message = receive(deadline)) {
            if (message->command() == Command::control_reply && message->unsigned_integer(f::request_id) == rid) {
                return std::move(*message);
            }
            // A REJECTED without a job id refuses a message that could not be read, and this
            // request is the one the client is waiting on.
            if (message->command() == Command::rejected && !message->string(f::id)) {
                return Error{"zq-node at " + endpoint + " refused the request to " + what + ": " +
                             std::string(message->string(f::reason).value_or("no reason given"))};
            }
            keep(*message);
        }
        withdraw(sequence);
        return no_answer(timeout, received_before, what);
    }

    Result<JobInfo> job(std::string_view id, Milliseconds timeout) {
        BodyWriter body;
        body.add(f::operation, "job").add(f::id, id);
        auto reply = request(Command::control, body, timeout, "report job " + std::string(id));
        if (!reply) return reply.failure();
        if (!reply->boolean(f::ok).value_or(false)) {
            return Error{"zq-node at " + endpoint + ": " +
                             std::string(reply->string(f::error).value_or("no job " + std::string(id))),
                         ErrorCode::not_found};
        }
        return read_job_data(*reply);
    }

    Result<JobInfo> wait(std::string_view id, Milliseconds timeout) {
        if (auto job = take_unclaimed_state(id)) return *job;
        const auto deadline = Clock::now() + timeout;
        const auto received_before = messages_received;

        // Ask for the job first: that tells a missing node from a job still running, and a
        // job already finished needs no watch. Only then ask for its STATE; the node sends
        // it at once if the job ended in between, so nothing is missed.
        BodyWriter job_body;
        job_body.add(f::operation, "job").add(f::id, id);
        const auto [job_rid, job_sequence] = send_request(Command::control, job_body);
        std::uint64_t watch_rid = 0;
        std::uint64_t watch_sequence = 0;
        std::optional<JobInfo> last_known;

        while (auto message = receive(deadline)) {
            if (message->command() == Command::state && message->string(f::id) == id) {
                auto job = read_job(*message);
                if (!job) return job.failure();
                if (job->terminal()) return *job;
                last_known = std::move(*job);
                continue;
            }
            if (message->command() == Command::control_reply) {
                const auto rid = message->unsigned_integer(f::request_id);
                const bool ok = message->boolean(f::ok).value_or(false);
                if (rid == job_rid) {
                    if (!ok) {
                        return Error{"zq-node at " + endpoint + ": " +
                                         std::string(message->string(f::error).value_or("no job " + std::string(id))),
                                     ErrorCode::not_found};
                    }
                    auto job = read_job_data(*message);
                    if (!job) return job.failure();
                    if (job->terminal()) return *job;
                    last_known = std::move(*job);
                    BodyWriter watch_body;
                    watch_body.add(f::operation, "watch").add(f::id, id);
                    std::tie(watch_rid, watch_sequence) = send_request(Command::control, watch_body);
                    continue;
                }
                if (watch_rid != 0 && rid == watch_rid) {
                    if (!ok) {
                        return Error{"zq-node at " + endpoint + " cannot watch job " + std::string(id) + ": " +
                                         std::string(message->string(f::error).value_or("no such job")),
                                     ErrorCode::not_found};
                    }
                    continue;
                }
            }
            keep(*message);
        }
        withdraw(job_sequence);
        if (watch_sequence != 0) withdraw(watch_sequence);
        if (!last_known) return no_answer(timeout, received_before, "report job " + std::string(id));
        std::string where = last_known->node.empty() ? std::string() : " on " + last_known->node;
        return Error{"job " + std::string(id) + " did not finish within " + seconds_text(timeout) + ": it is " +
                         std::string(to_string(last_known->state)) + where,
                     ErrorCode::timed_out};
    }
};

namespace {

// Runs a call, turning anything thrown inside (zmq errors, allocation failure) into an Error:
// nothing throws across the client API.
template <class T, class ImplPointer, class Call>
Result<T> guarded(const ImplPointer& impl, Call&& call) {
    if (!impl) return Error{"this zq::Client was moved from", ErrorCode::bad_input};
    if (impl->broken) return *impl->broken;
    try {
        return call(*impl);
    } catch (const std::exception& error) {
        return Error{"zq client talking to " + impl->endpoint + ": " + error.what()};
    }
}

}  // namespace

Client::Client(std::string endpoint) : Client(std::move(endpoint), Credentials{}) {}
Client::Client(std::string endpoint, const Credentials& credentials)
    : impl_(std::make_unique<Impl>(std::move(endpoint), credentials)) {}
Client::~Client() = default;
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;

const std::string& Client::endpoint() const {
    static const std::string none;
    return impl_ ? impl_->endpoint : none;
}

Result<Submitted> Client::submit(Task task, Milliseconds timeout) { return hand_over(std::move(task), false, timeout); }

Result<Submitted> Client::broadcast(Task task, Milliseconds timeout) {
    return hand_over(std::move(task), true, timeout);
}

Result<Submitted> Client::hand_over(Task task, bool broadcast, Milliseconds timeout) {
    return guarded<Submitted>(impl_, [&](Impl& impl) -> Result<Submitted> {
        const auto deadline = Clock::now() + timeout;
        const auto received_before = impl.messages_received;
        if (task.id.empty()) task.id = new_job_id();
        BodyWriter body;
        write_task(body, task);
        body.add(f::watch, false);
        const auto sequence = impl.enqueue(broadcast ? Command::broadcast : Command::submit, body.finish());
        while (auto message = impl.receive(deadline)) {
            const auto id = message->string(f::id);
            if (message->command() == Command::accepted && id == task.id) {
                auto reply = read_reply(*message);
                if (!reply) return reply.failure();
                return std::get<Accepted>(*reply).submitted;
            }
            if (message->command() == Command::rejected && (!id || *id == task.id)) {
                return Error{"zq-node at " + impl.endpoint + " rejected job " + task.id + " (task " + task.name +
                             "): " + std::string(message->string(f::reason).value_or("no reason given"))};
            }
            impl.keep(*message);
        }
        impl.withdraw(sequence);
        return impl.no_answer(timeout, received_before, "accept job " + task.id);
    });
}

Result<Submitted> Client::submit_workflow(const Flow& flow, std::string id, Milliseconds timeout) {
    return submit_workflow_packed(flow.packed(), std::move(id), timeout);
}

Result<Submitted> Client::submit_workflow_packed(std::string packed_flow, std::string id, Milliseconds timeout) {
    return guarded<Submitted>(impl_, [&](Impl& impl) -> Result<Submitted> {
        const auto deadline = Clock::now() + timeout;
        const auto received_before = impl.messages_received;
        if (id.empty()) id = new_job_id();
        BodyWriter body;
        body.add(f::id, id).add_packed(f::flow, packed_flow).add(f::watch, false);
        const auto sequence = impl.enqueue(Command::workflow, body.finish());
        while (auto message = impl.receive(deadline)) {
            const auto answered = message->string(f::id);
            if (message->command() == Command::accepted && answered == id) {
                auto reply = read_reply(*message);
                if (!reply) return reply.failure();
                return std::get<Accepted>(*reply).submitted;
            }
            if (message->command() == Command::rejected && (!answered || *answered == id)) {
                return Error{"zq-node at " + impl.endpoint + " rejected workflow " + id + ": " +
                             std::string(message->string(f::reason).value_or("no reason given"))};
            }
            impl.keep(*message);
        }
        impl.withdraw(sequence);
        return impl.no_answer(timeout, received_before, "accept workflow " + id);
    });
}

Result<JobInfo> Client::wait(std::string_view id, Milliseconds timeout) {
    return guarded<JobInfo>(impl_, [&](Impl& impl) { return impl.wait(id, timeout); });
}

Result<JobInfo> Client::status(std::string_view id, Milliseconds timeout) {
    return guarded<JobInfo>(impl_, [&](Impl& impl) { return impl.job(id, timeout); });
}

Result<JobInfo> Client::result(std::string_view id, Milliseconds timeout) {
    return guarded<JobInfo>(impl_, [&](Impl& impl) -> Result<JobInfo> {
        auto job = impl.job(id, timeout);
        if (!job) return job;
        if (!job->terminal()) {
            return Error{"job " + std::string(id) + " has no result yet: it is " + std::string(to_string(job->state)),
                         ErrorCode::timed_out};
        }
        return job;
    });
}

Result<JobInfo> Client::cancel(std::string_view id, Milliseconds timeout) {
    return guarded<JobInfo>(impl_, [&](Impl& impl) -> Result<JobInfo> {
        BodyWriter body;
        body.add(f::id, id);
        auto reply = impl.request(Command::cancel, body, timeout, "answer the cancel of job " + std::string(id));
        if (!reply) return reply.failure();
        // The reply carries the job as it is after the request, also when the cancel was
        // refused because the job had already ended: the caller sees that from its state.
        auto job = read_job_data(*reply);
        if (job) return job;
        const bool ok = reply->boolean(f::ok).value_or(false);
        const std::string fallback = ok ? "the reply carries no job" : "no job " + std::string(id);
        const std::string why(reply->string(f::error).value_or(fallback));
        return Error{"zq-node at " + impl.endpoint + " cannot cancel job " + std::string(id) + ": " + why,
                     ok ? ErrorCode::failed : ErrorCode::not_found};
    });
}

Result<std::string> Client::control(std::string_view operation, Milliseconds timeout) {
    return control(operation, std::string_view(), timeout);
}

Result<std::string> Client::control(std::string_view operation, std::string_view id, Milliseconds timeout) {
    return guarded<std::string>(impl_, [&](Impl& impl) -> Result<std::string> {
        BodyWriter body;
        body.add(f::operation, operation);
        if (!id.empty()) body.add(f::id, id);
        auto reply = impl.request(Command::control, body, timeout, "answer '" + std::string(operation) + "'");
        if (!reply) return reply.failure();
        if (!reply->boolean(f::ok).value_or(false)) {
            return Error{"zq-node at " + impl.endpoint + " refused '" + std::string(operation) +
                         "': " + std::string(reply->string(f::error).value_or("no reason given"))};
        }
        // nil when the operation answers nothing.
        return reply->packed(f::data).value_or(std::string("\xc0", 1));
    });
}

Status Client::post(const Task& task, bool watch) {
    return guarded<Done>(impl_, [&](Impl& impl) -> Status {
        BodyWriter body;
        if (task.id.empty()) {
            Task with_id = task;
            with_id.id = new_job_id();
            write_task(body, with_id);
        } else {
            write_task(body, task);
        }
        body.add(f::watch, watch);
        impl.enqueue(Command::submit, body.finish());
        return success();
    });
}

Result<Reply> Client::next_reply(Milliseconds timeout) {
    return guarded<Reply>(impl_, [&](Impl& impl) -> Result<Reply> {
        if (!impl.unclaimed.empty()) {
            Reply reply = std::move(impl.unclaimed.front());
            impl.unclaimed.pop_front();
            return reply;
        }
        const auto deadline = Clock::now() + timeout;
        const auto received_before = impl.messages_received;
        while (auto message = impl.receive(deadline)) {
            if (message->command() == Command::control_reply) continue;  // its request gave up
            auto reply = read_reply(*message);
            if (reply) return reply;
        }
        // Posts still waiting in the outbox mean the node never took them.
        if (impl.messages_received == received_before && (impl.messages_received == 0 || !impl.outbox.empty())) {
            return Error{impl.no_answer_text(timeout), ErrorCode::unreachable};
        }
        return Error{"no reply from zq-node at " + impl.endpoint + " within " + seconds_text(timeout),
                     ErrorCode::timed_out};
    });
}

}  // namespace zq
