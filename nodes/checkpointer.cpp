#include "checkpointer.hpp"

#include <spdlog/spdlog.h>
#include <sqlite3.h>

namespace zq::node {
namespace {

// How long the checkpointer waits for a lock another connection holds (a reader that
// started before the checkpoint only limits how much it may copy, it does not block it).
constexpr int kBusyTimeoutMs = 1000;

}  // namespace

Checkpointer::Checkpointer(std::string path) : path_(std::move(path)) {
    if (sqlite3_open_v2(path_.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) {
        spdlog::error("journal {}: cannot open a connection for checkpoints: {}; commits checkpoint the log", path_,
                      db_ ? sqlite3_errmsg(db_) : "out of memory");
        sqlite3_close(db_);
        db_ = nullptr;
        return;
    }
    sqlite3_busy_timeout(db_, kBusyTimeoutMs);
    thread_ = std::thread([this] { run(); });
}

Checkpointer::~Checkpointer() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_one();
    if (thread_.joinable()) thread_.join();
    sqlite3_close(db_);
}

void Checkpointer::request() {
    {
        std::lock_guard lock(mutex_);
        requested_ = true;
    }
    wake_.notify_one();
}

unsigned long long Checkpointer::completed() const {
    std::lock_guard lock(mutex_);
    return completed_;
}

void Checkpointer::run() {
    std::unique_lock lock(mutex_);
    for (;;) {
        wake_.wait(lock, [this] { return requested_ || stopping_; });
        if (stopping_) return;
        requested_ = false;
        lock.unlock();
        int log_frames = 0, copied = 0;
        int rc = sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_PASSIVE, &log_frames, &copied);
        if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
            spdlog::warn("journal {}: checkpoint failed: {}", path_, sqlite3_errmsg(db_));
        }
        lock.lock();
        ++completed_;
    }
}

}  // namespace zq::node
