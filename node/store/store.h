// The node's durable store: what must survive a crash (open interactions, the event log, the
// interaction-ID counter) behind one interface, so that SQLite (embedded default) and
// PostgreSQL (pairs on two hosts, later) are interchangeable.
//
// Writes are asynchronous and grouped: the loop thread hands over a Transaction and gets its
// completion back on the loop thread once the batch that contains it is durably committed
// (group commit). Reads of the event log (the reporting backlog) are asynchronous too: nothing
// reads the database on the loop thread except load() at start-up. Every callback runs on the
// loop thread on a later loop turn, never inside the call that queued it (close() included).
// Implementations: SqliteStore (node/store/sqlite_store.h), MemoryStore (memory_store.h, for
// in-process tests); make_store() (store_factory.h) picks one from the configuration.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <variant>
#include <vector>

#include "node/store/lease_table.h"
#include "protocol/result.h"

namespace ix::node {

// One interaction as stored: indexed columns plus its encoded InteractionInfo.
struct StoredInteraction {
  std::string id;
  std::string tenant;
  int state = 0;
  std::vector<uint8_t> data;  // a FlatBuffers InteractionInfo buffer
};

struct StoredEvent {
  uint64_t seq = 0;
  int64_t timestamp_us = 0;
  std::string tenant;
  std::vector<uint8_t> frame;  // the complete reporting frame, as sent to subscribers
};

struct PutInteraction {
  StoredInteraction interaction;
};
struct DeleteInteraction {
  std::string id;
};
struct AppendEvent {
  StoredEvent event;
};
struct SetCounter {
  std::string name;
  uint64_t value = 0;
};
// Event-log retention: drops events written before a time. The newest event is always kept so
// that the log still says where the sequence stands.
struct TrimEvents {
  int64_t before_timestamp_us = 0;
};

// A submit's idempotency key (RequestSubmit.request_id, scoped by the node) and the interaction
// it created, written with that interaction so that a retry finds it after a failover.
struct PutSubmitKey {
  std::string key;
  std::string interaction_id;
  int64_t recorded_us = 0;
};
// Drops the submit keys recorded before a time (the pair's submit-key-window has passed).
struct TrimSubmitKeys {
  int64_t before_us = 0;
};

using Mutation = std::variant<PutInteraction, DeleteInteraction, AppendEvent, SetCounter, TrimEvents, PutSubmitKey, TrimSubmitKeys>;

// Everything one request changes; committed atomically, with other transactions.
struct Transaction {
  std::vector<Mutation> mutations;
};

// What a node loads when it becomes primary.
struct LoadedState {
  std::vector<StoredInteraction> interactions;
  uint64_t last_seq = 0;
  std::vector<std::pair<std::string, uint64_t>> counters;
  std::vector<PutSubmitKey> submit_keys;  // oldest first
};

struct CommitStats {
  uint64_t batches = 0;
  uint64_t transactions = 0;
  double last_batch_seconds = 0;
  size_t last_batch_size = 0;
};

class Store {
 public:
  using CommitCallback = std::function<void(const Status&)>;
  using ReadCallback = std::function<void(Result<std::vector<StoredEvent>>)>;
  using LeaseCallback = std::function<void(Result<LeaseOutcome>)>;
  // Observes every committed batch (size, seconds) on the loop thread, for metrics.
  using BatchObserver = std::function<void(size_t transactions, double seconds)>;

  virtual ~Store() = default;

  virtual Result<LoadedState> load() = 0;
  // Queues a transaction; done runs on the loop thread after it is committed (or failed).
  virtual void commit(Transaction transaction, CommitCallback done) = 0;
  // Reads the events with seq > after_seq, oldest first, at most limit of them; done runs on the
  // loop thread. Reads see every transaction whose commit has completed.
  virtual void read_events(uint64_t after_seq, size_t limit, ReadCallback done) = 0;
  // The smallest seq still in the event log (0 when empty), as of the last completed commit;
  // kept in memory, so it costs no read.
  virtual uint64_t first_seq() const = 0;
  // Runs one lease command (lease_table.h) in a transaction of its own: the row is read, decided
  // by decide_lease() and written in one transaction, so two acquirers of one name never both
  // win, whichever process they reach. done runs on the loop thread with the lease as it stands
  // after the command (or the store's error).
  virtual void lease(LeaseCommand command, LeaseCallback done) = 0;
  virtual void set_batch_observer(BatchObserver observer) = 0;
  // Stops taking work. Transactions and reads already queued still finish, and their callbacks
  // run on a later loop turn (never inside close()); close() is idempotent.
  virtual void close() = 0;
};

}  // namespace ix::node
