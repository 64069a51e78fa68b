// SqliteStore: the embedded Store on one SQLite database in WAL mode.
//
// A writer thread owns one connection and commits everything queued since its last commit in
// one transaction (group commit), with synchronous=FULL so that a completed commit survives a
// power cut. A reader thread owns a second connection, which WAL lets run beside the writer, and
// serves read_events() off the loop; load() at start-up uses the same connection under a mutex.
// Completions and reads return to the loop thread through a LoopMailbox, which also carries
// what is still in flight at close() to the next loop turn. The schema carries a version and
// migrates forward on open (version 2 added the lease table). Lease commands run on the writer
// thread, each in a transaction of its own; renewals and releases commit with synchronous=NORMAL (no fsync
// while holding SQLite's write lock: a process frozen in a renewal would keep the other node
// from taking over; both nodes share one host, so a power cut loses both anyway). Every batch
// checks the fence (set_fence) inside its BEGIN IMMEDIATE transaction. The loop thread calls
// every public method.
#pragma once

#include <uv.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

#include "node/store/loop_mailbox.h"
#include "node/store/store.h"

struct sqlite3;

namespace ix::node {

struct SqliteOptions {
  std::string path;
  bool durable = true;           // synchronous=FULL (else NORMAL: survives a crash, not a power cut)
  bool group_commit = true;      // false: one SQLite transaction per Transaction (the baseline)
  size_t max_batch = 10'000;     // transactions per commit at most
};

class SqliteStore final : public Store {
 public:
  static constexpr int kSchemaVersion = 3;

  // Opens (creating or migrating) the database. Runs on the loop thread that will receive
  // commit completions.
  static Result<std::unique_ptr<SqliteStore>> open(uv_loop_t* loop, SqliteOptions options);
  ~SqliteStore() override;

  Result<LoadedState> load() override;
  void commit(Transaction transaction, CommitCallback done) override;
  void read_events(uint64_t after_seq, size_t limit, ReadCallback done) override;
  uint64_t first_seq() const override { return first_seq_.load(); }
  void lease(LeaseCommand command, LeaseCallback done) override;
  void set_fence(Fence fence) override;
  void set_batch_observer(BatchObserver observer) override { counters_->observer = std::move(observer); }
  void close() override;

  const CommitStats& stats() const { return counters_->stats; }

 private:
  struct Pending {
    Transaction transaction;
    CommitCallback done;
    Status result;
    Fence fence;  // as set when commit() queued it
    uint64_t order = 0;
  };
  struct PendingLease {
    LeaseCommand command;
    LeaseCallback done;
    uint64_t order = 0;  // runs after every commit with a smaller order
  };
  struct PendingRead {
    uint64_t after_seq;
    size_t limit;
    ReadCallback done;
  };
  // What completions update on the loop thread; shared with them so that completions delivered
  // after the store is gone (close() then destruction) still have it.
  struct Counters {
    BatchObserver observer;
    CommitStats stats;
  };

  SqliteStore(SqliteOptions options) : options_(std::move(options)) {}
  void writer_main();
  void reader_main();
  Status apply(std::vector<Pending>& batch, const Fence& fence);
  // Writer thread, inside the batch's transaction: whether the fence still holds.
  Status check_fence(const Fence& fence);
  Result<std::vector<StoredEvent>> read(uint64_t after_seq, size_t limit);
  // Writer thread: one lease command in a transaction of its own.
  Result<LeaseOutcome> apply_lease(const LeaseCommand& command);
  Result<LeaseOutcome> run_lease(const LeaseCommand& command);
  // Writer thread, after a commit: the smallest seq left in the log.
  void refresh_first_seq();

  SqliteOptions options_;
  sqlite3* writer_ = nullptr;  // the writer thread's (open and migrate use it before it starts)
  sqlite3* reader_ = nullptr;  // the reader thread's, and load()'s, under reader_mutex_
  std::mutex reader_mutex_;
  LoopMailbox* mailbox_ = nullptr;  // frees itself after close()
  std::shared_ptr<Counters> counters_ = std::make_shared<Counters>();
  std::atomic<uint64_t> first_seq_{0};

  std::mutex mutex_;
  std::condition_variable wake_;         // the writer's
  std::condition_variable reader_wake_;  // the reader's
  std::deque<Pending> queue_;
  std::deque<PendingRead> reads_;
  std::deque<PendingLease> leases_;
  Fence fence_;  // under mutex_; commit() copies it into each Pending
  uint64_t next_order_ = 0;  // under mutex_: commits and lease commands in the order queued
  bool stopping_ = false;
  std::thread writer_thread_;
  std::thread reader_thread_;
};

}  // namespace ix::node
