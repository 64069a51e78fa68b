// MemoryStore: a complete Store held in memory, for in-process tests of the node (and for a
// node that needs no durability). It keeps the same contract as SqliteStore: a commit is atomic
// and completes on a later loop turn, reads see every completed commit, callbacks never run
// inside the call that queued them. Tests can also hold commits back and release them with
// pump(), to look at the node between a request and its commit, and make commits fail.
// The loop thread calls every method; completions run on it.
#pragma once

#include <uv.h>

#include <map>
#include <memory>
#include <optional>

#include "protocol/net/loop_mailbox.h"
#include "node/store/store.h"

namespace ix::node {

class MemoryStore final : public Store {
 public:
  explicit MemoryStore(uv_loop_t* loop);
  ~MemoryStore() override;

  Result<LoadedState> load() override;
  void commit(Transaction transaction, CommitCallback done) override;
  void read_events(uint64_t after_seq, size_t limit, ReadCallback done) override;
  uint64_t first_seq() const override;
  void lease(LeaseCommand command, LeaseCallback done) override;
  void set_fence(Fence fence) override { data_->fence = std::move(fence); }
  void set_batch_observer(BatchObserver observer) override { data_->observer = std::move(observer); }
  void close() override;

  // Test controls. While held, commits wait for pump() instead of the next loop turn.
  void hold_commits(bool hold) { data_->held = hold; }
  // Commits everything queued now, as one batch, running the callbacks; returns how many.
  size_t pump();
  // Every commit from now on fails with `error`; nullopt clears it, and the fail-stop with it.
  void fail_commits(std::optional<Error> error) {
    data_->failure = std::move(error);
    if (!data_->failure) data_->failed.reset();
  }
  size_t queued() const { return data_->queue.size(); }
  const CommitStats& stats() const { return data_->stats; }

 private:
  struct Pending {
    Transaction transaction;
    CommitCallback done;
    Fence fence;  // as set when commit() queued it
  };
  // Shared with the callbacks in the mailbox, which may run after the store is gone.
  struct Data {
    std::map<std::string, StoredInteraction> interactions;
    std::map<uint64_t, StoredEvent> events;
    std::map<std::string, uint64_t> counters;
    std::map<std::string, PutSubmitKey> submit_keys;
    std::map<std::string, LeaseRecord> leases;
    std::vector<Pending> queue;
    bool held = false;
    bool flush_posted = false;
    std::optional<Error> failure;  // injected by fail_commits()
    std::optional<Error> failed;   // the first failed commit (fail-stop)
    Fence fence;  // the current one; each commit() keeps a copy, checked before it is applied
    BatchObserver observer;
    CommitStats stats;
  };
  static size_t flush(Data& data);
  static Status apply(Data& data, const Transaction& transaction);
  static Status check_fence(const Data& data, const Fence& fence);

  std::shared_ptr<Data> data_ = std::make_shared<Data>();
  net::LoopMailbox* mailbox_;  // frees itself after close()
};

}  // namespace ix::node
