// Who may use the node's ipc sockets: ipc endpoints never use CURVE, so the file system
// guards them. DATA/node.sock (and DATA/pub.sock) get [security] ipc_mode (default 0660) and,
// when ipc_group is set, that group; the data directory, 0700 otherwise, then becomes 0710
// with that group, so that the group's members can reach the sockets (search permission)
// without listing or reading the directory.
#pragma once

#include "config.hpp"

#include <zq/result.hpp>

#include <string>

namespace zq::node {

// Applies the mode and group to an ipc socket file that was just bound.
Status restrict_ipc_socket(const std::string& path, const SecuritySettings& settings);
// Opens the data directory to ipc_group for search (0710), when one is set.
Status open_data_dir_to_group(const std::string& data_dir, const SecuritySettings& settings);

}  // namespace zq::node
