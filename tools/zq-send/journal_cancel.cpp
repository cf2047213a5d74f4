#include "journal_cancel.hpp"

#include "clock.hpp"
#include "journal.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>

namespace zq::send {
namespace {

// The names zq-node gives them in its data directory.
constexpr const char* kLockFile = "node.lock";
constexpr const char* kJournalFile = "journal.db";

JobInfo job_info(const node::JobRecord& record) {
    JobInfo job;
    job.id = record.id;
    job.task = record.task;
    job.state = record.state;
    job.result = record.result;
    job.error = record.error;
    job.node = record.node;
    job.eta_ms = record.eta_ms;
    job.expires_ms = record.expires_ms;
    job.next_attempt_ms = record.next_attempt_ms;
    job.attempts = record.attempts;
    return job;
}

}  // namespace

Result<std::optional<DataDirLock>> DataDirLock::try_take(const std::string& data_dir) {
    std::error_code ignored;
    if (!std::filesystem::is_directory(data_dir, ignored)) {
        return Error{"no data directory " + data_dir + ": give the directory of the node's --data"};
    }
    // Every node creates its journal as it starts; without one, DIR is not a node's.
    if (!std::filesystem::exists(std::filesystem::path(data_dir) / kJournalFile, ignored)) {
        return Error{data_dir + " holds no journal (" + kJournalFile +
                     "): is it the data directory of a node that has run?"};
    }
    std::string path = data_dir + "/" + kLockFile;
    // Created if missing (a journal copied from elsewhere), as zq-node itself does.
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return Error{"cannot open " + path + ": " + std::strerror(errno)};
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int why = errno;
        ::close(fd);
        if (why == EWOULDBLOCK) return std::optional<DataDirLock>();
        return Error{"cannot lock " + path + ": " + std::strerror(why)};
    }
    return std::optional<DataDirLock>(DataDirLock(data_dir, fd));
}

DataDirLock::~DataDirLock() {
    // Closing the descriptor releases the flock.
    if (fd_ >= 0) ::close(fd_);
}

DataDirLock::DataDirLock(DataDirLock&& other) noexcept
    : data_dir_(std::move(other.data_dir_)), fd_(std::exchange(other.fd_, -1)) {}

DataDirLock& DataDirLock::operator=(DataDirLock&& other) noexcept {
    if (this != &other) {
        if (fd_ >= 0) ::close(fd_);
        data_dir_ = std::move(other.data_dir_);
        fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
}

Result<JournalCancel> cancel_in_journal(const DataDirLock& lock, std::string_view id) {
    auto journal = node::Journal::open(lock.data_dir(), node::JournalSync::normal);
    if (!journal) return Error{journal.error()};
    auto found = (*journal)->find(id);
    if (!found) return Error{found.error()};
    if (!*found) return Error{"no job " + std::string(id), ErrorCode::not_found};

    JournalCancel outcome;
    outcome.job = job_info(**found);
    if (is_terminal(outcome.job.state)) return outcome;
    if (auto requested = (*journal)->request_cancel(id, node::wall_ms()); !requested) return Error{requested.error()};
    if (auto committed = (*journal)->commit(); !committed) return Error{committed.error()};
    outcome.recorded = true;
    return outcome;
}

}  // namespace zq::send
