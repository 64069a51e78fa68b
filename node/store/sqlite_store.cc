#include "node/store/sqlite_store.h"

#include <sqlite3.h>

#include <algorithm>
#include <chrono>

namespace ix::node {

namespace {

Error sqlite_error(sqlite3* db, const std::string& what) {
  return Error{0, what + ": " + (db ? sqlite3_errmsg(db) : "out of memory")};
}

Status exec(sqlite3* db, const char* sql) {
  char* message = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &message) != SQLITE_OK) {
    Error error{0, std::string(sql).substr(0, 60) + ": " + (message ? message : "failed")};
    sqlite3_free(message);
    return error;
  }
  return {};
}

// Undoes an open transaction; a failure here leaves nothing more to undo.
void rollback(sqlite3* db) { sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr); }

// A prepared statement that finalizes itself.
class Statement {
 public:
  Statement(sqlite3* db, const char* sql) : db_(db) { sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr); }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  bool ok() const { return stmt_ != nullptr; }
  sqlite3_stmt* get() { return stmt_; }
  void bind(int i, const std::string& s) { sqlite3_bind_text(stmt_, i, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT); }
  void bind(int i, int64_t v) { sqlite3_bind_int64(stmt_, i, v); }
  void bind(int i, const std::vector<uint8_t>& b) {
    sqlite3_bind_blob(stmt_, i, b.data(), static_cast<int>(b.size()), SQLITE_TRANSIENT);
  }
  // Runs a statement that returns no rows and resets it for the next use.
  bool run() {
    int rc = sqlite3_step(stmt_);
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
    return rc == SQLITE_DONE;
  }
  bool step_row() { return sqlite3_step(stmt_) == SQLITE_ROW; }
  int64_t integer(int col) { return sqlite3_column_int64(stmt_, col); }
  std::string text(int col) {
    const auto* p = sqlite3_column_text(stmt_, col);
    return p ? std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(stmt_, col))) : "";
  }
  std::vector<uint8_t> blob(int col) {
    const auto* p = static_cast<const uint8_t*>(sqlite3_column_blob(stmt_, col));
    return p ? std::vector<uint8_t>(p, p + sqlite3_column_bytes(stmt_, col)) : std::vector<uint8_t>();
  }
  const char* error() const { return sqlite3_errmsg(db_); }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

Result<sqlite3*> open_connection(const SqliteOptions& options) {
  sqlite3* db = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  if (sqlite3_open_v2(options.path.c_str(), &db, flags, nullptr) != SQLITE_OK) {
    Error e = sqlite_error(db, "cannot open SQLite database \"" + options.path + "\"");
    sqlite3_close(db);
    return e;
  }
  sqlite3_busy_timeout(db, 10'000);
  for (const char* pragma : {"PRAGMA journal_mode=WAL", "PRAGMA foreign_keys=OFF"}) {
    if (Status s = exec(db, pragma); !s) {
      sqlite3_close(db);
      return s.error();
    }
  }
  if (Status s = exec(db, options.durable ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL"); !s) {
    sqlite3_close(db);
    return s.error();
  }
  return db;
}

// Schema migrations, in order: migrations[i] takes version i to version i + 1.
const char* const kMigrations[] = {
    R"(CREATE TABLE interactions (
         id TEXT PRIMARY KEY,
         tenant TEXT NOT NULL,
         state INTEGER NOT NULL,
         data BLOB NOT NULL);
       CREATE TABLE event_log (
         seq INTEGER PRIMARY KEY,
         timestamp_us INTEGER NOT NULL,
         tenant TEXT NOT NULL,
         frame BLOB NOT NULL);
       CREATE TABLE counters (
         name TEXT PRIMARY KEY,
         value INTEGER NOT NULL);)",
    // Named leases (lease_table.h): expires_ms is wall-clock milliseconds since the epoch, read
    // by both nodes of the pair; a released lease keeps its row so its fencing is never reused.
    R"(CREATE TABLE leases (
         name TEXT PRIMARY KEY,
         holder TEXT NOT NULL,
         fencing INTEGER NOT NULL,
         expires_ms INTEGER NOT NULL);)",
    // Submit idempotency keys (store.h: PutSubmitKey), kept for the pair's submit-key-window.
    R"(CREATE TABLE submit_keys (
         key TEXT PRIMARY KEY,
         interaction_id TEXT NOT NULL,
         recorded_us INTEGER NOT NULL);
       CREATE INDEX submit_keys_recorded ON submit_keys (recorded_us);)",
};
static_assert(std::size(kMigrations) == SqliteStore::kSchemaVersion);

Status migrate(sqlite3* db, const std::string& path) {
  if (Status s = exec(db, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"); !s) return s;
  Statement read(db, "SELECT version FROM schema_version");
  int version = read.step_row() ? static_cast<int>(read.integer(0)) : 0;
  if (version > SqliteStore::kSchemaVersion) {
    return Error{0, "database \"" + path + "\" has schema version " + std::to_string(version) +
                        ", newer than this ixnode's " + std::to_string(SqliteStore::kSchemaVersion)};
  }
  for (int v = version; v < SqliteStore::kSchemaVersion; ++v) {
    if (Status s = exec(db, "BEGIN IMMEDIATE"); !s) return s;
    Status step = exec(db, kMigrations[v]);
    if (step) {
      std::string update = v == 0 ? "INSERT INTO schema_version VALUES (1)"
                                  : "UPDATE schema_version SET version = " + std::to_string(v + 1);
      step = exec(db, update.c_str());
    }
    if (!step) {
      rollback(db);
      return Error{0, "migrating \"" + path + "\" to schema version " + std::to_string(v + 1) + " failed: " + step.error().text};
    }
    if (Status s = exec(db, "COMMIT"); !s) return s;
  }
  return {};
}

}  // namespace

Result<std::unique_ptr<SqliteStore>> SqliteStore::open(uv_loop_t* loop, SqliteOptions options) {
  std::unique_ptr<SqliteStore> store(new SqliteStore(std::move(options)));
  auto writer = open_connection(store->options_);
  if (!writer) return writer.error();
  store->writer_ = *writer;
  if (Status s = migrate(store->writer_, store->options_.path); !s) return s.error();
  auto reader = open_connection(store->options_);
  if (!reader) return reader.error();
  store->reader_ = *reader;
  store->refresh_first_seq();
  store->start(loop);
  return store;
}

SqliteStore::~SqliteStore() {
  close();
  sqlite3_close(reader_);
  sqlite3_close(writer_);
}

std::optional<uint64_t> SqliteStore::read_first_seq() {
  Statement read(writer_, "SELECT COALESCE(MIN(seq), 0) FROM event_log");
  if (!read.ok() || !read.step_row()) return std::nullopt;
  return static_cast<uint64_t>(read.integer(0));
}

Status SqliteStore::check_fence(const Fence& fence) {
  if (fence.epoch == 0) return {};
  Statement read(writer_, "SELECT holder, fencing FROM leases WHERE name = ?");
  if (!read.ok()) return sqlite_error(writer_, "reading the pair's lease");
  read.bind(1, fence.lease_name);
  std::string holder;
  uint64_t fencing = 0;
  if (read.step_row()) {
    holder = read.text(0);
    fencing = static_cast<uint64_t>(read.integer(1));
  }
  if (holder == fence.holder && fencing == fence.epoch) return {};
  return Error{kFencedErrorCode, "fenced: the pair's lease is at epoch " + std::to_string(fencing) + " held by " +
                                     (holder.empty() ? std::string("nobody") : holder) + ", this node's epoch was " +
                                     std::to_string(fence.epoch)};
}

Status SqliteStore::apply(std::vector<Pending>& batch, const Fence& fence) {
  Statement put(writer_, "INSERT OR REPLACE INTO interactions (id, tenant, state, data) VALUES (?, ?, ?, ?)");
  Statement remove(writer_, "DELETE FROM interactions WHERE id = ?");
  Statement append(writer_, "INSERT INTO event_log (seq, timestamp_us, tenant, frame) VALUES (?, ?, ?, ?)");
  Statement counter(writer_, "INSERT OR REPLACE INTO counters (name, value) VALUES (?, ?)");
  Statement trim(writer_, "DELETE FROM event_log WHERE timestamp_us < ? AND seq < (SELECT MAX(seq) FROM event_log)");
  Statement put_key(writer_, "INSERT OR REPLACE INTO submit_keys (key, interaction_id, recorded_us) VALUES (?, ?, ?)");
  Statement trim_keys(writer_, "DELETE FROM submit_keys WHERE recorded_us < ?");
  if (!put.ok() || !remove.ok() || !append.ok() || !counter.ok() || !trim.ok() || !put_key.ok() || !trim_keys.ok()) {
    return sqlite_error(writer_, "preparing statements");
  }
  if (Status s = exec(writer_, "BEGIN IMMEDIATE"); !s) return s;
  // Under the write lock taken by BEGIN IMMEDIATE: the row cannot change before COMMIT.
  if (Status s = check_fence(fence); !s) {
    rollback(writer_);
    return s;
  }
  for (Pending& p : batch) {
    for (Mutation& m : p.transaction.mutations) {
      bool ok = true;
      if (auto* pi = std::get_if<PutInteraction>(&m)) {
        put.bind(1, pi->interaction.id);
        put.bind(2, pi->interaction.tenant);
        put.bind(3, int64_t{pi->interaction.state});
        put.bind(4, pi->interaction.data);
        ok = put.run();
      } else if (auto* di = std::get_if<DeleteInteraction>(&m)) {
        remove.bind(1, di->id);
        ok = remove.run();
      } else if (auto* ae = std::get_if<AppendEvent>(&m)) {
        append.bind(1, static_cast<int64_t>(ae->event.seq));
        append.bind(2, ae->event.timestamp_us);
        append.bind(3, ae->event.tenant);
        append.bind(4, ae->event.frame);
        ok = append.run();
      } else if (auto* sc = std::get_if<SetCounter>(&m)) {
        counter.bind(1, sc->name);
        counter.bind(2, static_cast<int64_t>(sc->value));
        ok = counter.run();
      } else if (auto* te = std::get_if<TrimEvents>(&m)) {
        trim.bind(1, te->before_timestamp_us);
        ok = trim.run();
      } else if (auto* pk = std::get_if<PutSubmitKey>(&m)) {
        put_key.bind(1, pk->key);
        put_key.bind(2, pk->interaction_id);
        put_key.bind(3, pk->recorded_us);
        ok = put_key.run();
      } else if (auto* tk = std::get_if<TrimSubmitKeys>(&m)) {
        trim_keys.bind(1, tk->before_us);
        ok = trim_keys.run();
      }
      if (!ok) {
        Error e = sqlite_error(writer_, "writing a transaction");
        rollback(writer_);
        return e;
      }
    }
  }
  if (Status s = exec(writer_, "COMMIT"); !s) {
    rollback(writer_);
    return s;
  }
  return {};
}

Result<LeaseOutcome> SqliteStore::apply_lease(const LeaseCommand& command) {
  // A renewal only pushes an expiry forward, a release only brings it closer: no fsync while
  // either holds the write lock (see the header); losing one in a power cut only makes the other
  // node wait for the expiry. A grant (a new epoch, the fence) stays fully durable.
  const bool relaxed = options_.durable && command.op != LeaseOp::kAcquire;
  if (relaxed) {
    if (Status s = exec(writer_, "PRAGMA synchronous=NORMAL"); !s) return s.error();
  }
  Result<LeaseOutcome> outcome = run_lease(command);
  if (relaxed) {
    if (Status s = exec(writer_, "PRAGMA synchronous=FULL"); !s) return s.error();
  }
  return outcome;
}

Result<LeaseOutcome> SqliteStore::run_lease(const LeaseCommand& command) {
  // BEGIN IMMEDIATE takes the database's write lock before the read: another process on the same
  // database (the other node of the pair) cannot decide the same row in between.
  if (Status s = exec(writer_, "BEGIN IMMEDIATE"); !s) return s.error();
  std::optional<LeaseRecord> current;
  {
    Statement read(writer_, "SELECT holder, fencing, expires_ms FROM leases WHERE name = ?");
    if (!read.ok()) {
      Error e = sqlite_error(writer_, "reading a lease");
      rollback(writer_);
      return e;
    }
    read.bind(1, command.name);
    if (read.step_row()) {
      current = LeaseRecord{command.name, read.text(0), static_cast<uint64_t>(read.integer(1)), read.integer(2)};
    }
  }
  LeaseOutcome outcome = decide_lease(current, command);
  if (outcome.changed) {
    Statement write(writer_, "INSERT OR REPLACE INTO leases (name, holder, fencing, expires_ms) VALUES (?, ?, ?, ?)");
    bool ok = write.ok();
    if (ok) {
      write.bind(1, outcome.record.name);
      write.bind(2, outcome.record.holder);
      write.bind(3, static_cast<int64_t>(outcome.record.fencing));
      write.bind(4, outcome.record.expires_ms);
      ok = write.run();
    }
    if (!ok) {
      Error e = sqlite_error(writer_, "writing a lease");
      rollback(writer_);
      return e;
    }
  }
  if (Status s = exec(writer_, "COMMIT"); !s) {
    rollback(writer_);
    return s.error();
  }
  return outcome;
}

Result<LoadedState> SqliteStore::load() {
  std::lock_guard lock(reader_mutex_);
  LoadedState state;
  // The other node may have written since open(): the first seq is read again too.
  Statement first(reader_, "SELECT COALESCE(MIN(seq), 0) FROM event_log");
  if (!first.ok() || !first.step_row()) return sqlite_error(reader_, "reading the event log");
  first_seq_.store(static_cast<uint64_t>(first.integer(0)));
  Statement interactions(reader_, "SELECT id, tenant, state, data FROM interactions ORDER BY id");
  if (!interactions.ok()) return sqlite_error(reader_, "loading interactions");
  while (interactions.step_row()) {
    state.interactions.push_back({interactions.text(0), interactions.text(1), static_cast<int>(interactions.integer(2)),
                                  interactions.blob(3)});
  }
  Statement seq(reader_, "SELECT COALESCE(MAX(seq), 0) FROM event_log");
  if (!seq.ok() || !seq.step_row()) return sqlite_error(reader_, "reading the event log");
  state.last_seq = static_cast<uint64_t>(seq.integer(0));
  Statement counters(reader_, "SELECT name, value FROM counters");
  if (!counters.ok()) return sqlite_error(reader_, "reading counters");
  while (counters.step_row()) state.counters.emplace_back(counters.text(0), static_cast<uint64_t>(counters.integer(1)));
  Statement keys(reader_, "SELECT key, interaction_id, recorded_us FROM submit_keys ORDER BY recorded_us, key");
  if (!keys.ok()) return sqlite_error(reader_, "reading submit keys");
  while (keys.step_row()) state.submit_keys.push_back({keys.text(0), keys.text(1), keys.integer(2)});
  return state;
}

Result<std::vector<StoredEvent>> SqliteStore::read(uint64_t after_seq, size_t limit) {
  std::lock_guard lock(reader_mutex_);
  Statement read(reader_, "SELECT seq, timestamp_us, tenant, frame FROM event_log WHERE seq > ? ORDER BY seq LIMIT ?");
  if (!read.ok()) return sqlite_error(reader_, "reading the event log");
  read.bind(1, static_cast<int64_t>(after_seq));
  read.bind(2, static_cast<int64_t>(limit));
  std::vector<StoredEvent> out;
  while (read.step_row()) {
    out.push_back({static_cast<uint64_t>(read.integer(0)), read.integer(1), read.text(2), read.blob(3)});
  }
  return out;
}

}  // namespace ix::node
