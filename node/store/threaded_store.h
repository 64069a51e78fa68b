// ThreadedStore: the threads, queues and completions that SqliteStore and PostgresStore share;
// each of them adds its database (a connection per thread, its statements, its schema).
//
// A writer thread takes the work commit() and lease() queued, in the order it was queued, except
// renewals, which go before any queued commit (a lease must not run out behind a long queue): the
// lease commands queued before the oldest commit, then one batch of the commits queued before
// the next lease command (group commit: everything queued, up to max_batch; without it one at a
// time), all under one fence, so that work queued under an older term never commits under a
// newer one. The database's apply() commits the batch in one transaction and checks the fence
// inside it. A failed batch fails every transaction in it and every later one (fail-stop: the
// node numbered its events and IDs after the failed ones, so committing later work would leave
// gaps; the node stops and the other node takes over from what was committed), except a batch
// refused by the fence (kFencedErrorCode), after which commits are checked again. A reader thread
// serves read_events() with read(), off the loop.
//
// Completions return to the loop thread through a LoopMailbox, which also carries what is still
// in flight at close() to the next loop turn. The loop thread calls every public method; a
// derived store's destructor calls close() before it closes its connections.
#pragma once

#include <uv.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "protocol/net/loop_mailbox.h"
#include "node/store/store.h"

namespace ix::node {

class ThreadedStore : public Store {
 public:
  ~ThreadedStore() override;

  void commit(Transaction transaction, CommitCallback done) override;
  void read_events(uint64_t after_seq, size_t limit, ReadCallback done) override;
  uint64_t first_seq() const override { return first_seq_.load(); }
  void lease(LeaseCommand command, LeaseCallback done) override;
  void set_fence(Fence fence) override;
  void set_batch_observer(BatchObserver observer) override { counters_->observer = std::move(observer); }
  void close() override;

  const CommitStats& stats() const { return counters_->stats; }

 protected:
  struct Pending {
    Transaction transaction;
    CommitCallback done;
    Fence fence;  // as set when commit() queued it
    Status result;
    uint64_t order = 0;  // when it was queued, among commits and lease commands
  };

  ThreadedStore(bool group_commit, size_t max_batch) : group_commit_(group_commit), max_batch_(max_batch) {}
  // Starts both threads; open() calls it once the connections are ready.
  void start(uv_loop_t* loop);

  // Writer thread: the batch in one database transaction, under `fence` (checked inside it).
  virtual Status apply(std::vector<Pending>& batch, const Fence& fence) = 0;
  // Writer thread: one lease command in a transaction of its own.
  virtual Result<LeaseOutcome> apply_lease(const LeaseCommand& command) = 0;
  // Reader thread: up to `limit` events after `after_seq`, in order.
  virtual Result<std::vector<StoredEvent>> read(uint64_t after_seq, size_t limit) = 0;
  // Writer thread (or open(), before it starts): the smallest seq left in the log, if readable.
  virtual std::optional<uint64_t> read_first_seq() = 0;

  void refresh_first_seq();
  std::atomic<uint64_t> first_seq_{0};

 private:
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

  void writer_main();
  void reader_main();

  const bool group_commit_;
  const size_t max_batch_;
  net::LoopMailbox* mailbox_ = nullptr;  // frees itself after close()
  std::shared_ptr<Counters> counters_ = std::make_shared<Counters>();

  std::mutex mutex_;
  std::condition_variable wake_;         // the writer's
  std::condition_variable reader_wake_;  // the reader's
  std::deque<Pending> queue_;
  std::deque<PendingRead> reads_;
  std::deque<PendingLease> leases_;
  Fence fence_;              // under mutex_; commit() copies it into each Pending
  uint64_t next_order_ = 0;  // under mutex_: commits and lease commands in the order queued
  bool stopping_ = false;
  std::optional<Error> failed_;  // the writer's: the first failed batch (fail-stop)
  std::thread writer_thread_;
  std::thread reader_thread_;
};

}  // namespace ix::node
