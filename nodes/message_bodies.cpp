#include "message_bodies.hpp"

namespace zq::node {
namespace {

namespace f = protocol::field;

// The envelope goes on the wire only through write_task(), so that a field added to the
// envelope reaches FORWARD and BROADCAST without a second list here.
void write_envelope(BodyWriter& body, const JobRecord& job, std::string_view origin) {
    write_task(body, task_from(job));
    body.add(f::node, origin);
}

}  // namespace

JobRecord record_from(Task&& task, std::int64_t now, const std::string& node) {
    JobRecord job;
    job.id = std::move(task.id);
    job.task = std::move(task.name);
    job.queue = std::move(task.queue);
    job.target = std::move(task.target);
    job.priority = task.priority;
    job.args = std::move(task.args);
    job.kwargs = std::move(task.kwargs);
    if (!task.headers.empty()) job.headers = pack(task.headers);
    job.soft_time_limit = task.soft_time_limit;
    job.hard_time_limit = task.hard_time_limit;
    job.eta_ms = task.eta_ms;
    job.expires_ms = task.expires_ms;
    job.max_retries = task.max_retries;
    job.retry_delay = task.retry_delay;
    job.retry_backoff = task.retry_backoff;
    job.retry_backoff_max = task.retry_backoff_max;
    job.retry_jitter = task.retry_jitter;
    job.retry_on_worker_lost = task.retry_on_worker_lost;
    job.carried = std::move(task.carried);
    job.unique_key = std::move(task.unique_key);
    job.unique_policy = std::move(task.unique_policy);
    job.key_concurrency = task.key_concurrency;
    job.weight = std::max<std::uint32_t>(task.weight, 1);
    job.exclusive = task.exclusive;
    job.state = JobState::queued;
    job.node = node;
    job.created_ms = now;
    job.updated_ms = now;
    return job;
}

Task task_from(const JobRecord& job) {
    Task task(job.task);
    task.id = job.id;
    task.queue = job.queue;
    task.target = job.target;
    task.priority = job.priority;
    if (!job.args.empty()) task.args = job.args;
    if (!job.kwargs.empty()) task.kwargs = job.kwargs;
    if (!job.headers.empty()) {
        auto headers = msgpack::unpack(job.headers.data(), job.headers.size());
        headers.get().convert(task.headers);
    }
    task.soft_time_limit = job.soft_time_limit;
    task.hard_time_limit = job.hard_time_limit;
    task.eta_ms = job.eta_ms;
    task.expires_ms = job.expires_ms;
    task.max_retries = job.max_retries;
    task.retry_delay = job.retry_delay;
    task.retry_backoff = job.retry_backoff;
    task.retry_backoff_max = job.retry_backoff_max;
    task.retry_jitter = job.retry_jitter;
    task.retry_on_worker_lost = job.retry_on_worker_lost;
    task.carried = job.carried;
    task.unique_key = job.unique_key;
    task.unique_policy = job.unique_policy;
    task.key_concurrency = job.key_concurrency;
    task.weight = job.weight == 1 ? 0 : job.weight;  // 1 is the default, left off the wire
    task.exclusive = job.exclusive;
    return task;
}

void write_job(BodyWriter& body, const JobRecord& job) {
    body.add(f::id, job.id).add(f::state, to_string(job.state)).add(f::task, job.task).add(f::node, job.node);
    if (!job.result.empty()) {
        body.add_packed(f::result, job.result);
    } else if (job.state == JobState::succeeded) {
        body.add_packed(f::result, std::string_view("\xc0", 1));  // returned nothing: nil
    }
    if (!job.error.empty()) body.add(f::error, job.error);
    if (job.eta_ms > 0) body.add(f::eta, static_cast<std::uint64_t>(job.eta_ms));
    if (job.expires_ms > 0) body.add(f::expires, static_cast<std::uint64_t>(job.expires_ms));
    if (job.attempts > 0) body.add(f::attempts, static_cast<std::uint64_t>(job.attempts));
    if (job.next_attempt_ms > 0) body.add(f::next_attempt, static_cast<std::uint64_t>(job.next_attempt_ms));
    // A workflow step says which workflow it belongs to and where: [workflow id, position].
    if (auto workflow = workflow_of(job)) {
        auto& packer = body.begin(f::workflow);
        packer.pack_array(2);
        packer.pack(workflow->first);
        packer.pack(workflow->second);
    }
}

std::optional<std::pair<std::string, std::string>> workflow_of(const JobRecord& job) {
    if (job.carried.empty()) return std::nullopt;
    auto carried = unpack_bounded(job.carried);
    if (!carried || carried->get().type != msgpack::type::MAP) return std::nullopt;
    const msgpack::object* workflow = FieldReader(carried->get()).find(f::workflow);
    if (!workflow || workflow->type != msgpack::type::ARRAY || workflow->via.array.size < 2) return std::nullopt;
    const msgpack::object& id = workflow->via.array.ptr[0];
    const msgpack::object& position = workflow->via.array.ptr[1];
    if (id.type != msgpack::type::STR || position.type != msgpack::type::STR) return std::nullopt;
    return std::make_pair(std::string(id.via.str.ptr, id.via.str.size),
                          std::string(position.via.str.ptr, position.via.str.size));
}

std::string job_body(const JobRecord& job) {
    BodyWriter body;
    write_job(body, job);
    return std::string(body.finish());
}

std::string accepted_body(std::string_view id, JobState state, std::string_view node, bool duplicate) {
    BodyWriter body;
    body.add(f::id, id).add(f::state, to_string(state)).add(f::node, node);
    if (duplicate) body.add(f::duplicate, true);
    return std::string(body.finish());
}

std::string rejected_body(std::string_view id, std::string_view reason) {
    BodyWriter body;
    body.add(f::reason, reason);
    if (!id.empty()) body.add(f::id, id);
    return std::string(body.finish());
}

std::string control_reply_body(RequestId request_id, std::string_view packed_data) {
    BodyWriter body;
    if (request_id) body.add(f::request_id, *request_id);
    body.add(f::ok, true).add_packed(f::data, packed_data);
    return std::string(body.finish());
}

std::string control_error_body(RequestId request_id, std::string_view error) {
    BodyWriter body;
    if (request_id) body.add(f::request_id, *request_id);
    body.add(f::ok, false).add(f::error, error);
    return std::string(body.finish());
}

std::string forward_body(const JobRecord& job, std::string_view origin) {
    BodyWriter body;
    write_envelope(body, job, origin);
    return std::string(body.finish());
}

void write_broadcast(BodyWriter& body, const JobRecord& job, const Outcomes& targets, std::string_view origin) {
    write_envelope(body, job, origin);
    auto& packer = body.begin(f::targets);
    packer.pack_array(static_cast<std::uint32_t>(targets.size()));
    for (const auto& [node, outcome] : targets) packer.pack(node);
}

std::string job_notice(std::string_view id, std::string_view node) {
    BodyWriter body;
    body.add(f::id, id).add(f::node, node);
    return std::string(body.finish());
}

std::string claim_body(std::string_view node, const std::vector<std::string>& ids) {
    BodyWriter body;
    body.add(f::node, node);
    auto& packer = body.begin(f::ids);
    packer.pack_array(static_cast<std::uint32_t>(ids.size()));
    for (const auto& id : ids) packer.pack(id);
    return std::string(body.finish());
}

std::string claimed_body(std::string_view node, const std::vector<ClaimAnswer>& answers) {
    BodyWriter body;
    body.add(f::node, node);
    auto& packer = body.begin(f::claims);
    packer.pack_array(static_cast<std::uint32_t>(answers.size()));
    for (const ClaimAnswer& answer : answers) {
        packer.pack_map(answer.state ? 3 : 2);
        packer.pack(std::string(f::id));
        packer.pack(answer.id);
        packer.pack(std::string(f::node));
        packer.pack(answer.holder);
        if (answer.state) {
            packer.pack(std::string(f::state));
            packer.pack(std::string(to_string(*answer.state)));
        }
    }
    return std::string(body.finish());
}

}  // namespace zq::node
