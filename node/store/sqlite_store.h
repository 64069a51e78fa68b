// SqliteStore: the embedded Store on one SQLite database in WAL mode.
//
// A writer thread owns one connection and commits everything queued since its last commit in
// one transaction (group commit), with synchronous=FULL so that a completed commit survives a
// power cut; completions return to the loop thread through a uv_async handle. The loop thread
// reads (start-up load, reporting backlog) through a second connection, which WAL lets run
// beside the writer. The schema carries a version and migrates forward on open.
#pragma once

#include <uv.h>

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

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
  static constexpr int kSchemaVersion = 1;

  // Opens (creating or migrating) the database. Runs on the loop thread that will receive
  // commit completions.
  static Result<std::unique_ptr<SqliteStore>> open(uv_loop_t* loop, SqliteOptions options);
  ~SqliteStore() override;

  Result<LoadedState> load() override;
  void commit(Transaction transaction, CommitCallback done) override;
  Result<std::vector<StoredEvent>> read_events(uint64_t after_seq, size_t limit) override;
  Result<uint64_t> first_seq() override;
  void set_batch_observer(BatchObserver observer) override { observer_ = std::move(observer); }
  void close() override;

  const CommitStats& stats() const { return stats_; }

 private:
  struct Pending {
    Transaction transaction;
    CommitCallback done;
    Status result;
  };
  struct Completed {
    std::vector<Pending> items;
    double seconds = 0;
  };

  SqliteStore(uv_loop_t* loop, SqliteOptions options) : loop_(loop), options_(std::move(options)) {}
  void writer_main();
  Status apply(std::vector<Pending>& batch);
  void deliver_completions();

  uv_loop_t* loop_;
  SqliteOptions options_;
  sqlite3* reader_ = nullptr;
  sqlite3* writer_ = nullptr;
  uv_async_t* async_ = nullptr;  // freed in its close callback

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Pending> queue_;
  std::deque<Completed> completed_;
  bool stopping_ = false;
  std::thread thread_;

  BatchObserver observer_;
  CommitStats stats_;
};

}  // namespace ix::node
