// Where a node keeps its data and where clients find it when nothing is configured.
#pragma once

#include <string>

namespace zq {

// $ZQ_DATA, else $XDG_STATE_HOME/zq, else $HOME/.local/state/zq, else ./zq-data.
std::string default_data_dir();
// The client endpoint of a node whose data directory is `data_dir`: ipc://DATA/node.sock.
std::string node_endpoint_for(const std::string& data_dir);
// $ZQ_NODE, else the endpoint of the default data directory.
std::string default_node_endpoint();

}  // namespace zq
