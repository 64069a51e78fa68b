#include "node/store/threaded_store.h"

#include <algorithm>
#include <chrono>

namespace ix::node {

namespace {

bool same_fence(const Fence& a, const Fence& b) {
  return a.epoch == b.epoch && a.holder == b.holder && a.lease_name == b.lease_name;
}

bool trims(const Transaction& t) {
  return std::any_of(t.mutations.begin(), t.mutations.end(), [](const Mutation& m) { return std::holds_alternative<TrimEvents>(m); });
}

}  // namespace

ThreadedStore::~ThreadedStore() { close(); }

void ThreadedStore::start(uv_loop_t* loop) {
  mailbox_ = net::LoopMailbox::create(loop);
  writer_thread_ = std::thread([this] { writer_main(); });
  reader_thread_ = std::thread([this] { reader_main(); });
}

void ThreadedStore::close() {
  if (mailbox_ == nullptr) return;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  reader_wake_.notify_one();
  // Both threads finish what is queued; its completions reach the loop on its next turn.
  writer_thread_.join();
  reader_thread_.join();
  mailbox_->close();
  mailbox_ = nullptr;
}

void ThreadedStore::commit(Transaction transaction, CommitCallback done) {
  {
    std::lock_guard lock(mutex_);
    queue_.push_back({std::move(transaction), std::move(done), fence_, {}, ++next_order_});
  }
  wake_.notify_one();
}

void ThreadedStore::read_events(uint64_t after_seq, size_t limit, ReadCallback done) {
  {
    std::lock_guard lock(mutex_);
    reads_.push_back({after_seq, limit, std::move(done)});
  }
  reader_wake_.notify_one();
}

void ThreadedStore::lease(LeaseCommand command, LeaseCallback done) {
  {
    std::lock_guard lock(mutex_);
    leases_.push_back({std::move(command), std::move(done), ++next_order_});
  }
  wake_.notify_one();
}

void ThreadedStore::set_fence(Fence fence) {
  std::lock_guard lock(mutex_);
  fence_ = std::move(fence);
}

void ThreadedStore::refresh_first_seq() {
  if (std::optional<uint64_t> first = read_first_seq()) first_seq_.store(*first);
}

void ThreadedStore::writer_main() {
  for (;;) {
    std::vector<Pending> batch;
    std::deque<PendingLease> leases;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty() || !leases_.empty(); });
      if (queue_.empty() && leases_.empty() && stopping_) return;
      // Renewals run first, wherever they were queued: a renewal changes no epoch, so no commit
      // depends on its place, and one that waited behind a long queue of commits would let the
      // lease run out under load. Other lease commands run once the commits queued before them
      // have (a release follows the commits in flight). Then one batch of commits queued before
      // the next of those.
      for (auto it = leases_.begin(); it != leases_.end();) {
        const bool due = it->command.op == LeaseOp::kRenew || queue_.empty() || it->order < queue_.front().order;
        if (!due) {
          ++it;
          continue;
        }
        leases.push_back(std::move(*it));
        it = leases_.erase(it);
      }
      const size_t take = group_commit_ ? max_batch_ : 1;
      while (batch.size() < take && !queue_.empty() && (leases_.empty() || queue_.front().order < leases_.front().order) &&
             (batch.empty() || same_fence(queue_.front().fence, batch.front().fence))) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    for (PendingLease& l : leases) {
      auto outcome = apply_lease(l.command);
      mailbox_->post([done = std::move(l.done), outcome = std::move(outcome)]() mutable {
        if (done) done(std::move(outcome));
      });
    }
    if (batch.empty()) continue;
    const auto started = std::chrono::steady_clock::now();
    Status result = failed_ ? Status{stopped_after(*failed_)} : apply(batch, batch.front().fence);
    if (!result && !failed_ && result.error().code != kFencedErrorCode) failed_ = result.error();
    // Only an empty log's first append or a trim moves the first seq.
    const bool moves_first =
        first_seq_.load() == 0 || std::any_of(batch.begin(), batch.end(), [](const Pending& p) { return trims(p.transaction); });
    if (result && moves_first) refresh_first_seq();
    for (Pending& p : batch) p.result = result;
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    mailbox_->post([counters = counters_, batch = std::move(batch), seconds]() mutable {
      ++counters->stats.batches;
      counters->stats.transactions += batch.size();
      counters->stats.last_batch_size = batch.size();
      counters->stats.last_batch_seconds = seconds;
      if (counters->observer) counters->observer(batch.size(), seconds);
      for (Pending& p : batch) {
        if (p.done) p.done(p.result);
      }
    });
  }
}

void ThreadedStore::reader_main() {
  for (;;) {
    PendingRead pending;
    {
      std::unique_lock lock(mutex_);
      reader_wake_.wait(lock, [this] { return stopping_ || !reads_.empty(); });
      if (reads_.empty() && stopping_) return;
      pending = std::move(reads_.front());
      reads_.pop_front();
    }
    auto events = read(pending.after_seq, pending.limit);
    mailbox_->post([done = std::move(pending.done), events = std::move(events)]() mutable {
      if (done) done(std::move(events));
    });
  }
}

}  // namespace ix::node
