// PostgresStore: the Store on a PostgreSQL database, for pairs whose two nodes run on two hosts.
//
// The same contract and the same shape as SqliteStore: a writer thread owns one libpq connection
// and commits everything queued since its last commit in one SQL transaction (group commit). A
// batch costs one round trip: libpq pipeline mode carries BEGIN, one multi-row statement per
// table (events, interactions, deletions, counters, each split only past libpq's 65,535
// parameters) and COMMIT in one flight, and the completions are posted only after COMMIT
// succeeded (synchronous_commit as the server sets it: on by default). A reader thread owns a
// second connection and serves read_events() off the loop; load() at start-up uses it under a
// mutex. Lease commands run on the writer thread, each in a transaction of its own that locks the
// row (SELECT ... FOR UPDATE) before decide_lease(), after the commits queued before it. The fence (set_fence) is checked by the
// first statement of every batch's transaction, ix_check_fence(), which locks the pair's lease
// row FOR UPDATE and raises SQLSTATE IXF01 when the epoch moved on, so the check costs no extra
// round trip and the row cannot change before COMMIT. A batch groups only transactions queued
// under the same fence. The schema carries a version and migrates forward on open, under an
// advisory lock so that the pair's two nodes may open it at once (version 3 added the fence
// function).
//
// A failed batch fails every transaction in it and every later one (fail-stop: later work was
// numbered after the failed work; the node stops and the other node takes over), except a batch
// refused by the fence, after which commits are checked again. A connection lost while idle is
// reopened before the next piece of work, which is how a backup's lease attempts and reads ride
// through a PostgreSQL restart. TCP keepalives and
// tcp_user_timeout, derived from the pair's lease-timeout unless the connection string sets
// them, make a dead database host an error within that time instead of a hang.
//
// The loop thread calls every public method.
#pragma once

#include <uv.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "node/store/loop_mailbox.h"
#include "node/store/store.h"

struct pg_conn;

namespace ix::node {

struct PostgresOptions {
  std::string conninfo;              // a libpq connection string (key=value or URI), no password
  std::string password;              // from storage.postgresql-password-env; empty: none
  bool group_commit = true;          // false: one SQL transaction per Transaction (the baseline)
  size_t max_batch = 10'000;         // transactions per commit at most
  // A dead database host must surface as an error within this (TCP keepalives and
  // tcp_user_timeout); the pair's lease-timeout.
  std::chrono::milliseconds dead_peer_timeout{3000};
  std::string application_name = "ixnode";
};

// Checks a connection string without connecting: it must parse, and it must not carry a
// password (that comes from postgresql-password-env). The error names the problem, never the
// string's secret.
Status check_postgres_conninfo(const std::string& conninfo);

// A plain connection with the store's settings (keepalives, password, application_name), for
// tools that read or write the tables directly (`ixctl store copy`); call it through pq()
// (libpq_api.h) and close it with pq().PQfinish.
Result<pg_conn*> connect_postgres(const PostgresOptions& options);

class PostgresStore final : public Store {
 public:
  static constexpr int kSchemaVersion = 4;

  // Connects (both connections) and creates or migrates the schema. Runs on the loop thread that
  // will receive the completions.
  static Result<std::unique_ptr<PostgresStore>> open(uv_loop_t* loop, PostgresOptions options);
  ~PostgresStore() override;

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
    Fence fence;  // as set when commit() was called
    Status result;
    uint64_t order = 0;  // when it was queued, among commits and lease commands
  };
  struct PendingLease {
    LeaseCommand command;
    LeaseCallback done;
    uint64_t order = 0;
  };
  struct PendingRead {
    uint64_t after_seq;
    size_t limit;
    ReadCallback done;
  };
  struct Counters {
    BatchObserver observer;
    CommitStats stats;
  };

  explicit PostgresStore(PostgresOptions options) : options_(std::move(options)) {}
  void writer_main();
  void reader_main();
  // Writer thread: the batch in one SQL transaction, sent as one pipeline.
  Status apply(std::vector<Pending>& batch, const Fence& fence);
  // Writer thread: one lease command in a transaction of its own.
  Result<LeaseOutcome> apply_lease(const LeaseCommand& command);
  Result<LeaseOutcome> try_lease_once(const LeaseCommand& command, bool& retry);
  // Reader connection, under reader_mutex_.
  Result<std::vector<StoredEvent>> read(uint64_t after_seq, size_t limit);
  // Writer thread (or open()): the smallest seq left in the log.
  void refresh_first_seq();
  // Reopens a connection that the server or the network dropped; an error if it cannot.
  Status ensure_connected(pg_conn*& connection);

  PostgresOptions options_;
  pg_conn* writer_ = nullptr;  // the writer thread's (open and migrate use it before it starts)
  pg_conn* reader_ = nullptr;  // the reader thread's, and load()'s, under reader_mutex_
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
  Fence fence_;  // under mutex_; copied into each commit
  uint64_t next_order_ = 0;  // under mutex_
  bool stopping_ = false;
  std::optional<Error> failed_;  // the writer's: the first failed batch (fail-stop)
  std::thread writer_thread_;
  std::thread reader_thread_;
};

}  // namespace ix::node
