// SqliteStore: the embedded Store on one SQLite database in WAL mode.
//
// On ThreadedStore's writer and reader threads: the writer's connection commits each batch in
// one BEGIN IMMEDIATE transaction (group commit), with synchronous=FULL so that a completed
// commit survives a power cut, and checks the fence (set_fence) inside it; the reader's
// connection, which WAL lets run beside the writer, serves read_events(), and load() at start-up
// uses it under a mutex. The schema carries a version and migrates forward on open (version 2
// added the lease table, version 3 the submit keys). Lease commands run on the writer thread,
// each in a transaction of its own; renewals and releases commit with synchronous=NORMAL (no
// fsync while holding SQLite's write lock: a process frozen in a renewal would keep the other
// node from taking over; both nodes share one host, so a power cut loses both anyway). The loop
// thread calls every public method.
#pragma once

#include <uv.h>

#include <memory>
#include <mutex>
#include <optional>

#include "node/store/threaded_store.h"

struct sqlite3;

namespace ix::node {

struct SqliteOptions {
  std::string path;
  bool durable = true;           // synchronous=FULL (else NORMAL: survives a crash, not a power cut)
  bool group_commit = true;      // false: one SQLite transaction per Transaction (the baseline)
  size_t max_batch = 10'000;     // transactions per commit at most
};

class SqliteStore final : public ThreadedStore {
 public:
  static constexpr int kSchemaVersion = 3;

  // Opens (creating or migrating) the database. Runs on the loop thread that will receive
  // commit completions.
  static Result<std::unique_ptr<SqliteStore>> open(uv_loop_t* loop, SqliteOptions options);
  ~SqliteStore() override;

  Result<LoadedState> load() override;

 private:
  explicit SqliteStore(SqliteOptions options)
      : ThreadedStore(options.group_commit, options.max_batch), options_(std::move(options)) {}
  Status apply(std::vector<Pending>& batch, const Fence& fence) override;
  // Writer thread, inside the batch's transaction: whether the fence still holds.
  Status check_fence(const Fence& fence);
  Result<std::vector<StoredEvent>> read(uint64_t after_seq, size_t limit) override;
  Result<LeaseOutcome> apply_lease(const LeaseCommand& command) override;
  Result<LeaseOutcome> run_lease(const LeaseCommand& command);
  std::optional<uint64_t> read_first_seq() override;

  SqliteOptions options_;
  sqlite3* writer_ = nullptr;  // the writer thread's (open and migrate use it before it starts)
  sqlite3* reader_ = nullptr;  // the reader thread's, and load()'s, under reader_mutex_
  std::mutex reader_mutex_;
};

}  // namespace ix::node
