#include "node/store/memory_store.h"

#include <algorithm>
#include <chrono>
#include <set>

namespace ix::node {

MemoryStore::MemoryStore(uv_loop_t* loop) : mailbox_(net::LoopMailbox::create(loop)) {}

MemoryStore::~MemoryStore() { close(); }

void MemoryStore::close() {
  if (mailbox_ == nullptr) return;
  // Whatever is queued (held or not) still commits, on the next loop turn.
  data_->held = false;
  if (!data_->queue.empty() && !data_->flush_posted) {
    data_->flush_posted = true;
    mailbox_->post([data = data_] {
      data->flush_posted = false;
      flush(*data);
    });
  }
  mailbox_->close();
  mailbox_ = nullptr;
}

Result<LoadedState> MemoryStore::load() {
  LoadedState state;
  for (const auto& [id, interaction] : data_->interactions) state.interactions.push_back(interaction);
  state.last_seq = data_->events.empty() ? 0 : data_->events.rbegin()->first;
  for (const auto& counter : data_->counters) state.counters.push_back(counter);
  for (const auto& [key, submit_key] : data_->submit_keys) state.submit_keys.push_back(submit_key);
  std::stable_sort(state.submit_keys.begin(), state.submit_keys.end(),
                   [](const PutSubmitKey& a, const PutSubmitKey& b) { return a.recorded_us < b.recorded_us; });
  return state;
}

void MemoryStore::commit(Transaction transaction, CommitCallback done) {
  data_->queue.push_back({std::move(transaction), std::move(done), data_->fence});
  if (data_->held || data_->flush_posted || mailbox_ == nullptr) return;
  data_->flush_posted = true;
  mailbox_->post([data = data_] {
    data->flush_posted = false;
    if (!data->held) flush(*data);
  });
}

size_t MemoryStore::pump() { return flush(*data_); }

size_t MemoryStore::flush(Data& data) {
  std::vector<Pending> batch;
  batch.swap(data.queue);
  if (batch.empty()) return 0;
  const auto started = std::chrono::steady_clock::now();
  std::vector<Status> results;
  results.reserve(batch.size());
  for (const Pending& p : batch) {
    Status result = data.failed ? Status{stopped_after(*data.failed)} : check_fence(data, p.fence);
    if (result) result = apply(data, p.transaction);
    if (!result && !data.failed && result.error().code != kFencedErrorCode) data.failed = result.error();
    results.push_back(std::move(result));
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  ++data.stats.batches;
  data.stats.transactions += batch.size();
  data.stats.last_batch_size = batch.size();
  data.stats.last_batch_seconds = seconds;
  if (data.observer) data.observer(batch.size(), seconds);
  for (size_t i = 0; i < batch.size(); ++i) {
    if (batch[i].done) batch[i].done(results[i]);
  }
  return batch.size();
}

Status MemoryStore::check_fence(const Data& data, const Fence& fence) {
  if (fence.epoch == 0) return {};
  auto it = data.leases.find(fence.lease_name);
  const std::string holder = it == data.leases.end() ? "" : it->second.holder;
  const uint64_t fencing = it == data.leases.end() ? 0 : it->second.fencing;
  if (holder == fence.holder && fencing == fence.epoch) return {};
  return Error{kFencedErrorCode, "fenced: the pair's lease is at epoch " + std::to_string(fencing) + " held by " +
                                     (holder.empty() ? std::string("nobody") : holder) + ", this node's epoch was " +
                                     std::to_string(fence.epoch)};
}

Status MemoryStore::apply(Data& data, const Transaction& transaction) {
  if (data.failure) return *data.failure;
  // Checked before anything changes, so that a refused transaction leaves nothing behind.
  std::set<uint64_t> appended;
  for (const Mutation& m : transaction.mutations) {
    if (const auto* ae = std::get_if<AppendEvent>(&m)) {
      if (data.events.contains(ae->event.seq) || !appended.insert(ae->event.seq).second) {
        return Error{0, "writing a transaction: event seq " + std::to_string(ae->event.seq) + " is already in the event log"};
      }
    }
  }
  for (const Mutation& m : transaction.mutations) {
    if (const auto* pi = std::get_if<PutInteraction>(&m)) {
      data.interactions[pi->interaction.id] = pi->interaction;
    } else if (const auto* di = std::get_if<DeleteInteraction>(&m)) {
      data.interactions.erase(di->id);
    } else if (const auto* ae = std::get_if<AppendEvent>(&m)) {
      data.events[ae->event.seq] = ae->event;
    } else if (const auto* sc = std::get_if<SetCounter>(&m)) {
      data.counters[sc->name] = sc->value;
    } else if (const auto* te = std::get_if<TrimEvents>(&m)) {
      if (data.events.empty()) continue;
      const uint64_t newest = data.events.rbegin()->first;
      std::erase_if(data.events, [&](const auto& e) {
        return e.first < newest && e.second.timestamp_us < te->before_timestamp_us;
      });
    } else if (const auto* pk = std::get_if<PutSubmitKey>(&m)) {
      data.submit_keys[pk->key] = *pk;
    } else if (const auto* tk = std::get_if<TrimSubmitKeys>(&m)) {
      std::erase_if(data.submit_keys, [&](const auto& k) { return k.second.recorded_us < tk->before_us; });
    }
  }
  return {};
}

void MemoryStore::read_events(uint64_t after_seq, size_t limit, ReadCallback done) {
  // Read when delivered, like SqliteStore's reader: it sees the commits completed by then.
  mailbox_->post([data = data_, after_seq, limit, done = std::move(done)] {
    std::vector<StoredEvent> out;
    for (auto it = data->events.upper_bound(after_seq); it != data->events.end() && out.size() < limit; ++it) {
      out.push_back(it->second);
    }
    if (done) done(std::move(out));
  });
}

void MemoryStore::lease(LeaseCommand command, LeaseCallback done) {
  // Decided when delivered (on a later turn, like SqliteStore's writer): each command sees every
  // one queued before it. A failing store fails lease commands too.
  mailbox_->post([data = data_, command = std::move(command), done = std::move(done)] {
    if (data->failure) {
      if (done) done(*data->failure);
      return;
    }
    auto it = data->leases.find(command.name);
    std::optional<LeaseRecord> current;
    if (it != data->leases.end()) current = it->second;
    LeaseOutcome outcome = decide_lease(current, command);
    if (outcome.changed) data->leases[command.name] = outcome.record;
    if (done) done(std::move(outcome));
  });
}

uint64_t MemoryStore::first_seq() const { return data_->events.empty() ? 0 : data_->events.begin()->first; }

}  // namespace ix::node
