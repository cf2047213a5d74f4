// Where a node keeps its data and where clients find it: the same rules for zq-node, the
// client API and the tools, so that a node started with no configuration and a client given
// none meet at the same endpoint.
#include <zq/defaults.hpp>

#include <cstdlib>

namespace zq {

namespace {

// An environment variable's value; unset and empty are the same (an empty ZQ_NODE= in a
// shell should fall back to the default, not name an empty endpoint).
std::string environment(const char* name) {
    const char* value = std::getenv(name);
    return value != nullptr ? std::string(value) : std::string();
}

}  // namespace

std::string default_data_dir() {
    if (auto data = environment("ZQ_DATA"); !data.empty()) return data;
    if (auto state = environment("XDG_STATE_HOME"); !state.empty()) return state + "/zq";
    if (auto home = environment("HOME"); !home.empty()) return home + "/.local/state/zq";
    return "./zq-data";
}

std::string node_endpoint_for(const std::string& data_dir) {
    // A trailing slash would make the path "DIR//node.sock": harmless for the kernel, but the
    // endpoint is printed in messages and should read cleanly.
    std::string dir = data_dir;
    while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
    return "ipc://" + dir + "/node.sock";
}

std::string default_node_endpoint() {
    if (auto node = environment("ZQ_NODE"); !node.empty()) return node;
    return node_endpoint_for(default_data_dir());
}

}  // namespace zq
