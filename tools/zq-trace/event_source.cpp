#include "event_source.hpp"

#include "event_format.hpp"

#include <zq/json.hpp>

#include <cerrno>
#include <cstring>
#include <utility>

namespace zq::trace {

namespace {

class LiveSource : public EventSource {
public:
    LiveSource(Events events, std::deque<Event> history)
        : events_(std::move(events)), backlog_(std::move(history)) {}

    Result<std::optional<Event>> next(Milliseconds timeout) override {
        if (!backlog_.empty()) {
            Event event = std::move(backlog_.front());
            backlog_.pop_front();
            return std::optional<Event>(std::move(event));
        }
        auto event = events_.next(timeout);
        if (event) return std::optional<Event>(std::move(*event));
        if (event.error_code() == ErrorCode::timed_out) return std::optional<Event>();
        return event.failure();
    }

    bool finished() const override { return false; }
    bool live() const override { return true; }
    std::vector<StreamCounters> counters() const override { return events_.counters(); }

private:
    Events events_;
    std::deque<Event> backlog_;
};

class ReplaySource : public EventSource {
public:
    explicit ReplaySource(std::vector<Event> events) : events_(std::move(events)) {}

    Result<std::optional<Event>> next(Milliseconds) override {
        if (next_ == events_.size()) return std::optional<Event>();
        return std::optional<Event>(events_[next_++]);
    }

    bool finished() const override { return next_ == events_.size(); }
    bool live() const override { return false; }

private:
    std::vector<Event> events_;
    std::size_t next_ = 0;
};

}  // namespace

Result<std::unique_ptr<EventSource>> open_live(const LiveOptions& options,
                                               const std::function<void(const std::string&)>& warn) {
    // Every event of the chosen streams: zq-trace filters (and records) them itself.
    Subscription subscription;
    subscription.nodes = options.nodes;
    subscription.publishers = options.publishers;
    subscription.filter.events = options.events;
    subscription.filter.tap = options.tap;
    subscription.filter.broadcasts = options.broadcasts;
    subscription.timeout = options.timeout;
    subscription.credentials = options.credentials;
    // Subscribed first and history second: whatever happens in between is in both, and
    // the trace keeps one copy, rather than in neither.
    auto events = Events::open(std::move(subscription));
    if (!events) return events.failure();

    std::deque<Event> history;
    if (!options.history_of_job.empty()) {
        for (const auto& node : options.nodes) {
            Client client(node, options.credentials);
            auto kept = fetch_history(client, options.history_of_job, options.timeout);
            if (!kept) {
                if (kept.error_code() == ErrorCode::unreachable) return kept.failure();
                warn("no history from " + node + ", following it live only: " + kept.error());
                continue;
            }
            history.insert(history.end(), kept->begin(), kept->end());
        }
    }
    return std::unique_ptr<EventSource>(std::make_unique<LiveSource>(std::move(*events), std::move(history)));
}

Result<std::unique_ptr<EventSource>> open_replay(const std::string& path) {
    std::ifstream file(path);
    if (!file) return Error{"cannot read the recording " + path + ": " + std::strerror(errno), ErrorCode::bad_input};
    std::vector<Event> events;
    std::size_t line_number = 0;
    for (std::string line; std::getline(file, line);) {
        ++line_number;
        if (line.empty()) continue;
        const std::string where = path + " line " + std::to_string(line_number);
        nlohmann::json object = nlohmann::json::parse(line, nullptr, false);
        if (object.is_discarded()) {
            return Error{where + " is not JSON: was the file written by zq-trace --record?", ErrorCode::bad_input};
        }
        auto event = event_from_json(object);
        if (!event) return Error{where + " is not a recorded event: " + event.error(), ErrorCode::bad_input};
        events.push_back(std::move(*event));
    }
    return std::unique_ptr<EventSource>(std::make_unique<ReplaySource>(std::move(events)));
}

Result<std::unique_ptr<Recorder>> Recorder::open(const std::string& path) {
    std::ofstream file(path, std::ios::out | std::ios::trunc);
    if (!file) return Error{"cannot write the recording " + path + ": " + std::strerror(errno), ErrorCode::bad_input};
    return std::unique_ptr<Recorder>(new Recorder(path, std::move(file)));
}

Status Recorder::write(const Event& event) {
    // Flushed line by line, so that a trace stopped by a signal leaves a whole recording.
    file_ << dump_json(event_to_json(event)) << std::endl;
    if (!file_) return Error{"cannot write the recording " + path_ + ": " + std::strerror(errno)};
    return success();
}

}  // namespace zq::trace
