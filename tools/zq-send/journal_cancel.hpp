// zq-send cancel ID --data DIR while no node runs on DIR: the cancel is written straight into
// the node's journal, and the node honours it when it starts again (its start-up recovery
// ends every unfinished job with a cancel request as `canceled`, "canceled while the node was
// down"), so a queued job that was canceled never runs.
//
// Whether a node runs on DIR is told by the lock zq-node holds for as long as it runs: an
// exclusive flock on DIR/node.lock. zq-send takes the same lock for the few milliseconds of
// its write, so no node can start and read the journal half-way through it.
#pragma once

#include <zq/job.hpp>
#include <zq/result.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace zq::send {

// The data directory's lock, held. While it is held no zq-node runs on the directory, and
// none can start (a node that tries refuses to start: "another zq-node is running").
class DataDirLock {
public:
    // The lock, or nullopt when a running node holds it; an error when DIR is not a node's
    // data directory (no journal.db in it) or DIR/node.lock cannot be opened or locked.
    static Result<std::optional<DataDirLock>> try_take(const std::string& data_dir);

    ~DataDirLock();
    DataDirLock(DataDirLock&& other) noexcept;
    DataDirLock& operator=(DataDirLock&& other) noexcept;
    DataDirLock(const DataDirLock&) = delete;
    DataDirLock& operator=(const DataDirLock&) = delete;

    const std::string& data_dir() const { return data_dir_; }

private:
    DataDirLock(std::string data_dir, int fd) : data_dir_(std::move(data_dir)), fd_(fd) {}

    std::string data_dir_;
    int fd_ = -1;
};

// What a cancel written to the journal did.
struct JournalCancel {
    JobInfo job;            // the job as the journal holds it
    bool recorded = false;  // false: the job had already ended, so nothing was written
};

// Records a cancel request for job `id` in the journal of the locked directory. Errors:
// ErrorCode::not_found "no job ID" for an id the journal does not hold; ErrorCode::failed when
// the journal cannot be read or written.
Result<JournalCancel> cancel_in_journal(const DataDirLock& lock, std::string_view id);

}  // namespace zq::send
