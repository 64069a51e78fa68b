// PostgresStore: the Store on a PostgreSQL database, for pairs whose two nodes run on two hosts.
//
// The same contract as SqliteStore, on ThreadedStore's writer and reader threads, each with a
// libpq connection. A batch costs one round trip: libpq pipeline mode carries BEGIN, one
// multi-row statement per table (events, interactions, deletions, counters, submit keys, each
// split only past libpq's 65,535 parameters) and COMMIT in one flight, and the completions are
// posted only after COMMIT succeeded (synchronous_commit as the server sets it: on by default).
// load() at start-up uses the reader's connection under a mutex. Lease commands run on the
// writer thread, each in a transaction of its own that locks the row (SELECT ... FOR UPDATE)
// before decide_lease(). The fence (set_fence) is checked by the first statement of every
// batch's transaction, ix_check_fence(), which locks the pair's lease row FOR UPDATE and raises
// SQLSTATE IXF01 when the epoch moved on, so the check costs no extra round trip and the row
// cannot change before COMMIT. The schema carries a version and migrates forward on open, under
// an advisory lock so that the pair's two nodes may open it at once (version 3 added the fence
// function, version 4 the submit keys).
//
// A connection lost while idle is reopened before the next piece of work, which is how a
// backup's lease attempts and reads ride through a PostgreSQL restart. TCP keepalives and
// tcp_user_timeout, derived from the pair's lease-timeout unless the connection string sets
// them, make a dead database host an error within that time instead of a hang.
//
// The loop thread calls every public method.
#pragma once

#include <uv.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>

#include "node/store/threaded_store.h"

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

class PostgresStore final : public ThreadedStore {
 public:
  static constexpr int kSchemaVersion = 4;

  // Connects (both connections) and creates or migrates the schema. Runs on the loop thread that
  // will receive the completions.
  static Result<std::unique_ptr<PostgresStore>> open(uv_loop_t* loop, PostgresOptions options);
  ~PostgresStore() override;

  Result<LoadedState> load() override;

 private:
  explicit PostgresStore(PostgresOptions options)
      : ThreadedStore(options.group_commit, options.max_batch), options_(std::move(options)) {}
  // Writer thread: the batch in one SQL transaction, sent as one pipeline.
  Status apply(std::vector<Pending>& batch, const Fence& fence) override;
  Result<LeaseOutcome> apply_lease(const LeaseCommand& command) override;
  Result<LeaseOutcome> try_lease_once(const LeaseCommand& command, bool& retry);
  // The pair's lease row stayed locked past lock_timeout while an acquire waited for it.
  Result<LeaseOutcome> take_from_frozen_holder(const LeaseCommand& command, bool& retry);
  // Reader connection, under reader_mutex_.
  Result<std::vector<StoredEvent>> read(uint64_t after_seq, size_t limit) override;
  std::optional<uint64_t> read_first_seq() override;
  // Reopens a connection that the server or the network dropped; an error if it cannot.
  // `ending` is the connection's flag that the server announced the session's end.
  Status ensure_connected(pg_conn*& connection, bool& ending);

  PostgresOptions options_;
  pg_conn* writer_ = nullptr;  // the writer thread's (open and migrate use it before it starts)
  pg_conn* reader_ = nullptr;  // the reader thread's, and load()'s, under reader_mutex_
  bool writer_ending_ = false;  // set by the writer's notice receiver (note_server_ending)
  bool reader_ending_ = false;  // set by the reader's
  std::mutex reader_mutex_;
};

}  // namespace ix::node
