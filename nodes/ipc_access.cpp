#include "ipc_access.hpp"

#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace zq::node {
namespace {

// The group id of `name`, or an error naming it.
Result<gid_t> group_id(const std::string& name) {
    long size = ::sysconf(_SC_GETGR_R_SIZE_MAX);
    std::vector<char> buffer(size > 0 ? static_cast<std::size_t>(size) : 16384);
    struct group entry {};
    struct group* found = nullptr;
    int error = ::getgrnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found);
    if (error != 0 || found == nullptr) {
        return Error{"[security] ipc_group: no group named '" + name + "'" +
                     (error != 0 ? std::string(": ") + std::strerror(error) : std::string())};
    }
    return found->gr_gid;
}

Status change_group(const std::string& path, const std::string& group) {
    auto gid = group_id(group);
    if (!gid) return gid.failure();
    if (::chown(path.c_str(), static_cast<uid_t>(-1), *gid) != 0) {
        return Error{"cannot give " + path + " to group " + group + ": " + std::strerror(errno) +
                     " (the node's user must be a member of it)"};
    }
    return success();
}

}  // namespace

Status restrict_ipc_socket(const std::string& path, const SecuritySettings& settings) {
    if (!settings.ipc_group.empty()) {
        if (auto changed = change_group(path, settings.ipc_group); !changed) return changed;
    }
    if (::chmod(path.c_str(), static_cast<mode_t>(settings.ipc_mode)) != 0) {
        return Error{"cannot set the mode of " + path + ": " + std::strerror(errno)};
    }
    return success();
}

Status open_data_dir_to_group(const std::string& data_dir, const SecuritySettings& settings) {
    if (settings.ipc_group.empty()) return success();
    if (auto changed = change_group(data_dir, settings.ipc_group); !changed) return changed;
    if (::chmod(data_dir.c_str(), 0710) != 0) {
        return Error{"cannot set the mode of " + data_dir + ": " + std::strerror(errno)};
    }
    return success();
}

}  // namespace zq::node
