#include "publisher.hpp"

#include "secure_socket.hpp"

#include "clock.hpp"

#include <zq/wire.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>

namespace zq::node {
namespace {

namespace f = protocol::field;
using protocol::Command;

// Messages queued per subscriber before PUB drops (and the subscriber sees a gap).
constexpr int kSendHighWater = 100000;
// A tapped body larger than this is left out of its TAP message (the fields stay).
constexpr std::size_t kMaxTappedBody = 4096;
// EVENT carries at most this much of an error text; the whole text is in the job.
constexpr std::size_t kMaxEventError = 512;
// Broadcasts sent again in answer to one REPAIR.
constexpr std::uint64_t kMaxRepairBatch = 1000;
// A history reply fills at most this share of the largest message a client accepts.
constexpr std::size_t kHistoryShare = 2;

const char* stream_name(std::size_t stream) {
    static const char* const kNames[] = {"broadcast", "event", "tap"};
    return kNames[stream];
}

std::string_view cut(std::string_view text, std::size_t most) { return text.substr(0, std::min(text.size(), most)); }

// "tcp://10.0.0.1:7700" -> "tcp://10.0.0.1:*": a free port beside the client endpoint.
std::string free_port_beside(const std::string& endpoint) {
    auto colon = endpoint.rfind(':');
    return endpoint.substr(0, colon) + ":*";
}

}  // namespace

Publisher::Publisher(zmq::context_t& context, const Config& config, std::string incarnation)
    : socket_(context, zmq::socket_type::xpub), config_(config), incarnation_(std::move(incarnation)),
      tapping_(config.trace), drop_broadcast_(config.test_drop_broadcast) {
    socket_.set(zmq::sockopt::linger, 0);
    socket_.set(zmq::sockopt::sndhwm, kSendHighWater);
}

Status Publisher::bind_one(const std::string& endpoint, const Security& security) {
    // The fanout is for clients (zq::Events, zq-trace) and peers alike: domain "client"
    // admits both. A subscriber without an admitted key receives nothing.
    if (auto bound = bind_secured(socket_, security, kClientDomain, endpoint); !bound) {
        return Error{"cannot bind the publisher: " + bound.error() +
                     " (set `publish` in the config to choose its endpoints)"};
    }
    endpoints_.push_back(socket_.get(zmq::sockopt::last_endpoint));
    return success();
}

Status Publisher::bind(const Security& security) {
    std::vector<std::string> wanted = config_.publish;
    if (wanted.empty()) {
        wanted.push_back("ipc://" + config_.data_dir + "/pub.sock");
        for (const auto& bind : config_.binds) {
            if (bind.starts_with("tcp://")) wanted.push_back(free_port_beside(bind));
        }
    }
    for (const auto& endpoint : wanted) {
        if (auto bound = bind_one(endpoint, security); !bound) return bound;
    }
    // Peers are told the endpoint of the same transport as the one they reach this node on.
    std::string peer_endpoint = !config_.advertise.empty() ? config_.advertise
                                : !config_.binds.empty()   ? config_.binds.front()
                                                           : std::string("ipc://");
    std::string transport = peer_endpoint.substr(0, peer_endpoint.find("://") + 3);
    auto same = std::find_if(endpoints_.begin(), endpoints_.end(),
                             [&](const std::string& endpoint) { return endpoint.starts_with(transport); });
    advertised_ = same != endpoints_.end() ? *same : endpoints_.front();
    // A wildcard address means nothing to a peer: it gets the host it reaches this node on.
    if (advertised_.starts_with("tcp://0.0.0.0:") && transport == "tcp://") {
        auto host_end = peer_endpoint.rfind(':');
        advertised_ = peer_endpoint.substr(0, host_end) + advertised_.substr(advertised_.rfind(':'));
    }
    return success();
}

void Publisher::start(uv_loop_t* loop) {
    watcher_ = std::make_unique<ZmqWatcher>(loop, socket_, [this] { return read_subscriptions(); });
}

bool Publisher::read_subscriptions() {
    for (;;) {
        zmq::message_t message;
        auto received = retry_interrupted([&] { return socket_.recv(message, zmq::recv_flags::dontwait); });
        if (!received) return true;
        // XPUB hands up [1 or 0][topic]: subscribe or unsubscribe.
        if (message.size() == 0) continue;
        const auto* bytes = static_cast<const char*>(message.data());
        std::string topic(bytes + 1, message.size() - 1);
        bool subscribed = bytes[0] == 1;
        // A prefix subscription covers events when it is a prefix of "E/" or starts with it.
        bool covers_events = std::string_view("E/").starts_with(topic) || topic.starts_with("E/");
        bool changed = subscribed ? topics_.insert(topic).second : topics_.erase(topic) > 0;
        if (changed && covers_events) subscribed ? ++event_subscriptions_ : --event_subscriptions_;
    }
}

std::uint64_t Publisher::tap_clock() const { return tapping_ ? static_cast<std::uint64_t>(wall_us()) : 0; }

std::uint64_t Publisher::publish(Stream stream, Command command, std::string_view topic, std::string id,
                                 BodyWriter& body, std::uint64_t at_us) {
    std::size_t at = index(stream);
    std::uint64_t sequence = ++last_sequence_[at];
    auto now = at_us != 0 ? at_us : static_cast<std::uint64_t>(wall_us());
    body.add(f::incarnation, incarnation_).add(f::sequence, sequence).add(f::time_us, now);
    std::string_view bytes = body.finish();
    auto& kept = kept_[at];
    if (kept.size() >= config_.fanout_history) kept.pop_front();
    kept.push_back({sequence, now, command, std::move(id), std::string(bytes)});
    if (stream == Stream::broadcast && sequence == drop_broadcast_) {
        spdlog::warn("test hook: broadcast {} kept but not published", sequence);
        return sequence;
    }
    // PUB never blocks: a subscriber past its high-water mark misses the message and sees
    // the gap in the numbers.
    if (watcher_) watcher_->sent();
    send_message(socket_, command, bytes, topic);
    return sequence;
}

std::uint64_t Publisher::publish_broadcast(BodyWriter& body) {
    std::uint64_t sequence = publish(Stream::broadcast, Command::broadcast, "B", {}, body);
    const Kept& published = kept_[index(Stream::broadcast)].back();
    if (tapping_) tap(Direction::out, "*", Command::broadcast, published.body, published.time_us);
    return sequence;
}

void Publisher::publish_event(const JobEvent& event) {
    BodyWriter body;
    body.add(f::node, config_.name)
        .add(f::id, event.id)
        .add(f::state, event.state)
        .add(f::task, event.task)
        .add(f::queue, event.queue);
    if (!event.error.empty()) body.add(f::error, cut(event.error, kMaxEventError));
    if (event.attempts > 0) body.add(f::attempts, static_cast<std::uint64_t>(event.attempts));
    if (event.next_attempt_ms > 0) body.add(f::next_attempt, static_cast<std::uint64_t>(event.next_attempt_ms));
    if (!event.workflow.empty()) {
        auto& packer = body.begin(f::workflow);
        packer.pack_array(2);
        packer.pack(event.workflow);
        packer.pack(event.step);
    }
    std::string topic = "E/" + event.state + "/" + event.queue + "/" + event.task;
    publish(Stream::event, Command::event, topic, event.id, body);
}

void Publisher::tap(Direction direction, std::string_view peer, Command command, std::string_view tapped,
                    std::uint64_t at_us) {
    if (!tapping_) return;
    BodyWriter body;
    std::string_view name = protocol::command_name(command);
    body.add(f::node, config_.name)
        .add(f::direction, direction == Direction::in ? "in" : "out")
        .add(f::peer, peer)
        .add(f::command, name);
    std::string id;
    if (auto unpacked = unpack_bounded(tapped, config_.limits)) {
        FieldReader fields(unpacked->get());
        if (auto value = fields.string(f::id)) id = std::string(*value), body.add(f::id, *value);
        if (auto value = fields.string(f::task)) body.add(f::task, *value);
        if (auto value = fields.string(f::state)) body.add(f::state, *value);
        if (tapped.size() <= kMaxTappedBody) body.add_packed(f::body, tapped);
    }
    publish(Stream::tap, Command::tap, "T/" + std::string(name), std::move(id), body, at_us);
}

Publisher::Repair Publisher::repair_range(std::uint64_t from, std::uint64_t to) const {
    Repair repair;
    if (from == 0 || from > to) return repair;
    const auto& kept = kept_[index(Stream::broadcast)];
    std::uint64_t last = last_sequence_[index(Stream::broadcast)];
    // Numbers never published are gone too, so that the subscriber stops asking.
    if (to > last) repair.gone.emplace_back(std::max(from, last + 1), to);
    to = std::min(to, last);
    if (from > to) return repair;
    // Kept broadcasts are consecutive: the oldest one kept bounds what can be sent again.
    std::uint64_t oldest = kept.empty() ? to + 1 : kept.front().sequence;
    if (from < oldest) repair.gone.emplace_back(from, std::min(to, oldest - 1));
    // One answer sends a bounded batch; the subscriber asks again for the rest.
    std::uint64_t first = std::max(from, oldest);
    to = std::min(to, first + kMaxRepairBatch - 1);
    for (std::uint64_t sequence = first; sequence <= to; ++sequence) {
        repair.bodies.push_back(kept[sequence - oldest].body);
    }
    return repair;
}

std::string Publisher::history(std::string_view job_id) const {
    auto about_job = [job_id](const Kept& kept) {
        if (job_id.empty() || kept.id == job_id) return true;
        // A broadcast's runs are named ID@NODE.
        return kept.id.size() > job_id.size() && kept.id.starts_with(job_id) && kept.id[job_id.size()] == '@';
    };
    std::vector<const Kept*> chosen;
    for (Stream stream : {Stream::event, Stream::tap}) {
        for (const Kept& kept : kept_[index(stream)]) {
            if (about_job(kept)) chosen.push_back(&kept);
        }
    }
    std::stable_sort(chosen.begin(), chosen.end(),
                     [](const Kept* a, const Kept* b) { return a->time_us < b->time_us; });
    // The newest messages that fit in one reply.
    std::size_t budget = config_.limits.max_message_bytes / kHistoryShare, used = 0;
    auto first = chosen.end();
    while (first != chosen.begin() && used + (*(first - 1))->body.size() + 16 <= budget) {
        --first;
        used += (*first)->body.size() + 16;
    }
    msgpack::sbuffer buffer;
    msgpack::packer<msgpack::sbuffer> packer(buffer);
    packer.pack_array(static_cast<std::uint32_t>(chosen.end() - first));
    for (auto it = first; it != chosen.end(); ++it) {
        packer.pack_array(2);
        packer.pack(std::string(protocol::command_name((*it)->command)));
        buffer.write((*it)->body.data(), (*it)->body.size());
    }
    return std::string(buffer.data(), buffer.size());
}

nlohmann::json Publisher::status_json() const {
    nlohmann::json published = nlohmann::json::object();
    nlohmann::json kept = nlohmann::json::object();
    for (std::size_t stream = 0; stream < kept_.size(); ++stream) {
        published[stream_name(stream)] = last_sequence_[stream];
        kept[stream_name(stream)] = kept_[stream].size();
    }
    return {{"endpoint", advertised_}, {"endpoints", endpoints_}, {"trace", tapping_},
            {"published", published}, {"kept", kept},   {"topics", topics_}};
}

}  // namespace zq::node
