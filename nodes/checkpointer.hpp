// Moves the journal's write-ahead log into the database file on a thread of its own.
//
// SQLite checkpoints the log itself, inside the commit that crosses 1,000 pages: that commit
// then copies the pages and syncs the database file, and the turn behind it waits
// milliseconds. The node turns that off and asks this thread instead, with a connection of
// its own and PASSIVE checkpoints, which never block the node's writes (WAL lets one writer
// and a checkpointer work side by side). The log restarts from its beginning at the first
// commit after a checkpoint that copied everything.
#pragma once

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

struct sqlite3;

namespace zq::node {

class Checkpointer {
public:
    // Opens its connection here, on the caller's thread: ready() says whether it could.
    explicit Checkpointer(std::string path);
    ~Checkpointer();
    Checkpointer(const Checkpointer&) = delete;
    Checkpointer& operator=(const Checkpointer&) = delete;

    // False when its connection could not be opened (the reason is logged): then there is no
    // thread, and SQLite should go on checkpointing inside commits.
    bool ready() const { return db_ != nullptr; }
    // The log has grown: checkpoint when the thread is next free (requests do not queue up).
    void request();
    // Checkpoints done so far (for tests and status).
    unsigned long long completed() const;

private:
    void run();

    std::string path_;
    sqlite3* db_ = nullptr;  // used by the thread only, once it runs
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    bool requested_ = false;
    bool stopping_ = false;
    unsigned long long completed_ = 0;
    std::thread thread_;
};

}  // namespace zq::node
