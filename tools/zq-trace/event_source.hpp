// Where zq-trace's events come from: live from nodes (their retained history first, then what
// they publish), or from a recording made with --record. A recording is one JSON object a line
// (event_format.hpp) for every event received, in the order received, so that replaying it
// through the same filters and formatting prints the same lines.
#pragma once

#include <zq/events.hpp>

#include <deque>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace zq::trace {

class EventSource {
public:
    virtual ~EventSource() = default;
    // The next event; nullopt when none came within `timeout`.
    virtual Result<std::optional<Event>> next(Milliseconds timeout) = 0;
    // Whether nothing more will come (the end of a recording).
    virtual bool finished() const = 0;
    // Whether events arrive in real time, so that --timeout applies. A replay runs to its
    // end however long that takes, so that it prints what the live run printed.
    virtual bool live() const = 0;
    // What was received and missed of each publisher's stream (live only).
    virtual std::vector<StreamCounters> counters() const { return {}; }
};

struct LiveOptions {
    std::vector<std::string> nodes;       // client endpoints
    std::vector<std::string> publishers;  // PUB endpoints
    bool events = true;
    bool tap = true;
    bool broadcasts = false;
    // When set, each node's retained history of this job comes first.
    std::string history_of_job;
    // For each node's answers and for the connections to its publisher.
    Milliseconds timeout = kDefaultTimeout;
    // CURVE credentials for tcp nodes and publishers with keys (--key, --server-key).
    Credentials credentials;
};

// Subscribes (and fetches the history) before it returns. A node that refuses the history
// (one that keeps none) is reported through `warn` and followed live only.
Result<std::unique_ptr<EventSource>> open_live(const LiveOptions& options,
                                               const std::function<void(const std::string&)>& warn);
// Reads a whole recording; bad_input naming the line when one does not parse.
Result<std::unique_ptr<EventSource>> open_replay(const std::string& path);

// Writes every event received to a file, as it is received.
class Recorder {
public:
    static Result<std::unique_ptr<Recorder>> open(const std::string& path);
    Status write(const Event& event);

private:
    Recorder(std::string path, std::ofstream file) : path_(std::move(path)), file_(std::move(file)) {}
    std::string path_;
    std::ofstream file_;
};

}  // namespace zq::trace
