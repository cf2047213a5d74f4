// The task envelope: what a client asks a node to run, defined once. protocol.hpp lists its
// fields (kEnvelope); a Task holds the ones zq acts on as members, and carries every other
// envelope field of the spec untouched (`carried`), so that a field this version does not act
// on yet (eta, exp, uniqueness, links, workflow ids) still reaches the journal and every hop
// a job takes. write_task() and read_task() are the only places that map fields to members.
#pragma once

#include <zq/codec.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <tuple>

namespace zq {

// The most retries a job may ask for; more is read as this many.
inline constexpr std::uint32_t kMaxRetries = 1000;

struct Task {
    std::string id;  // UUIDv7; left empty, the client fills in a new one
    std::string name;
    std::string args = std::string("\x90", 1);    // msgpack array of positional arguments
    std::string kwargs = std::string("\x80", 1);  // msgpack map of keyword arguments
    std::string queue = "default";
    std::string target;  // node that must run it; empty = any node serving the queue
    std::int64_t priority = 0;
    // When it may run, as unix milliseconds (0 = not set): not before `eta_ms`, and never
    // once `expires_ms` has passed without it starting (it ends `expired`).
    std::int64_t eta_ms = 0;
    std::int64_t expires_ms = 0;
    // The retry policy. A failed run is retried up to max_retries times, after retry_delay
    // seconds; or, with retry_backoff, after retry_backoff × 2^(retry − 1) seconds capped at
    // retry_backoff_max (0: 600 s), each drawn at random in [0, delay] with retry_jitter. A
    // run whose worker died is retried only with retry_on_worker_lost.
    std::uint32_t max_retries = 0;
    double retry_delay = 0;
    double retry_backoff = 0;
    double retry_backoff_max = 0;
    bool retry_jitter = false;
    bool retry_on_worker_lost = false;
    double soft_time_limit = 0;  // seconds, 0 = none
    double hard_time_limit = 0;  // seconds, 0 = none
    // Capacity units the job takes on its node while it runs (AWX's impact); 0 = not set: its
    // task's configured weight, else 1. An exclusive job runs alone on its node.
    std::uint32_t weight = 0;
    bool exclusive = false;
    std::map<std::string, std::string> headers;
    // Uniqueness and throttling (docs/architecture.md, "Keys"): a key ("task+args" derives it
    // from the task name and its packed arguments), its on_duplicate policy (parallel,
    // discard, serial or queue_one; empty: the task's config, else parallel) and the number
    // of jobs of the key that may run at once across the cluster (0: the config's, else none).
    std::string unique_key;
    std::string unique_policy;
    std::uint32_t key_concurrency = 0;
    // The other envelope fields of the spec, as a packed msgpack map (empty when none).
    std::string carried;

    Task() = default;
    explicit Task(std::string task_name) : name(std::move(task_name)) {}

    // Typed positional arguments, packed as a msgpack array.
    template <class... A>
    Task& with_args(const A&... values) {
        args = pack(std::make_tuple(values...));
        return *this;
    }
    Task& with_id(std::string job_id) {
        id = std::move(job_id);
        return *this;
    }
    Task& on_queue(std::string queue_name) {
        queue = std::move(queue_name);
        return *this;
    }
    // Runs no earlier than `time` (ETA), or `seconds` from now (countdown).
    Task& at(std::chrono::system_clock::time_point time) {
        eta_ms = unix_ms(time);
        return *this;
    }
    Task& after(double seconds) { return at(seconds_from_now(seconds)); }
    // Ends `expired`, unrun, if it has not started by `time`, or `seconds` from now.
    Task& expires_at(std::chrono::system_clock::time_point time) {
        expires_ms = unix_ms(time);
        return *this;
    }
    Task& expires_after(double seconds) { return expires_at(seconds_from_now(seconds)); }

private:
    static std::int64_t unix_ms(std::chrono::system_clock::time_point time) {
        return std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
    }
    static std::chrono::system_clock::time_point seconds_from_now(double seconds) {
        return std::chrono::system_clock::now() +
               std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::duration<double>(seconds));
    }
};

// Writes the envelope fields of a task into a SUBMIT/FORWARD/BROADCAST body.
void write_task(BodyWriter& body, const Task& task);
// Whether the envelope field `key` is one a Task holds as a member.
bool is_task_member(std::string_view key);
// Reads the envelope from a decoded SUBMIT/FORWARD/BROADCAST (fields already type-checked).
Result<Task> read_task(const Message& message, const protocol::Limits& limits = {});

// A new UUIDv7 job id in its canonical text form.
std::string new_job_id();

}  // namespace zq
