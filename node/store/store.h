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
//
// The pair's leadership lives in the same database (DESIGN.md, primary/backup): a row of the
// lease table (lease_table.h) named kPairLeaseName, whose fencing number is the pair's epoch.
// Both nodes of a pair open the store when they start; the backup only runs lease() commands
// on it (trying to take the pair's lease, node/store/lease.h) until it wins, then calls
// set_fence() with the epoch it was granted, then load(), and only then commits. What a store
// must guarantee for that:
//   - lease() decides with decide_lease() inside one transaction that reads and writes the row,
//     serialised with every other writer of the database, from either process;
//   - every batch commit() writes checks the fence INSIDE its own transaction, before the batch
//     is made durable (see set_fence()): a node whose epoch was superseded, or who released the
//     lease, can never commit, however long it was frozen;
//   - load() reads the database as it is when called (possibly long after open), and first_seq()
//     is right after load() — the other node may have written in between.
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

// The lease-table row that holds the pair's own leadership (lease.h). Clients' named leases
// (RequestLease) may not use this name; the node refuses it.
inline constexpr const char* kPairLeaseName = "ixnode.pair";

// The error code of a commit refused by the fence: proto::ErrorCode::NotPrimary (store.h stays
// free of the protocol's generated headers).
inline constexpr int kFencedErrorCode = 311;

// What a commit after a failed one completes with (Store::commit: fail-stop).
inline Error stopped_after(const Error& first) {
  return Error{first.code, "an earlier commit failed, so this store commits nothing more: " + first.text};
}

// What every write transaction checks: the lease row `lease_name` still has holder == holder and
// fencing == epoch. Expiry is deliberately not checked: a run-out lease that nobody has taken
// (same holder, same epoch) means nobody else can have written, so a commit under it is safe,
// while a takeover always writes a new epoch and a release clears the holder.
struct Fence {
  std::string lease_name = kPairLeaseName;
  std::string holder;
  uint64_t epoch = 0;  // 0: no fence (commits are not checked) — tests and tools only
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
  // Completions run in the order commit() was called, so an empty transaction is a barrier:
  // its completion comes after every earlier commit's. Fail-stop: after a commit fails (other
  // than by the fence), every later one fails too, with stopped_after() of the first failure —
  // the node numbered its later work after the failed work, so committing it would leave gaps.
  virtual void commit(Transaction transaction, CommitCallback done) = 0;
  // Reads the events with seq > after_seq, oldest first, at most limit of them; done runs on the
  // loop thread. Reads see every transaction whose commit has completed.
  virtual void read_events(uint64_t after_seq, size_t limit, ReadCallback done) = 0;
  // The smallest seq still in the event log (0 when empty), as of the last completed commit;
  // kept in memory, so it costs no read.
  virtual uint64_t first_seq() const = 0;
  // Runs one lease command (lease_table.h) in a transaction of its own, after every commit()
  // queued before it (so a release follows the commits in flight; commits queued after it may
  // run before or after it) — except a renewal, which may also run before commits queued
  // before it, so that a long queue of commits cannot make the lease run out: the row is read, decided
  // by decide_lease() and written in one transaction, so two acquirers of one name never both
  // win, whichever process they reach. done runs on the loop thread with the lease as it stands
  // after the command (or the store's error).
  virtual void lease(LeaseCommand command, LeaseCallback done) = 0;
  // Fencing (DESIGN.md: "fencing by the database, not by hope"). Each commit() is checked
  // against the fence set when commit() was called (not when its batch runs: a node that steps
  // down and wins a later term must not commit the old term's queued work under the new epoch;
  // a batch groups only transactions queued under the same fence). The store runs every write
  // transaction as:
  //     BEGIN (taking the database's write lock: SQLite BEGIN IMMEDIATE; PostgreSQL
  //            SELECT ... FROM leases WHERE name = $1 FOR UPDATE, or equivalent)
  //     read the row fence.lease_name; holder == fence.holder && fencing == fence.epoch ?
  //     no  -> ROLLBACK; every transaction of the batch completes with
  //            Error{kFencedErrorCode, "fenced: the pair's lease is at epoch N held by H, this
  //            node's epoch was M"}; the store keeps running (later commits are checked again)
  //     yes -> write the batch, COMMIT
  // The check and the writes are one transaction: the row cannot change between them. Lease
  // commands are not fenced (a deposed node must still be able to try again). Called on the loop
  // thread; a fence with epoch 0 turns the check off.
  virtual void set_fence(Fence fence) = 0;
  virtual void set_batch_observer(BatchObserver observer) = 0;
  // Stops taking work. Transactions and reads already queued still finish, and their callbacks
  // run on a later loop turn (never inside close()); close() is idempotent.
  virtual void close() = 0;
};

}  // namespace ix::node
