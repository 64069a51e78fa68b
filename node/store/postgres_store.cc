#include "node/store/postgres_store.h"

#include "node/store/libpq_api.h"

#include <endian.h>
#include <libpq-fe.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <string_view>
#include <unordered_map>

#include "protocol/log.h"

namespace ix::node {

namespace {

// Type OIDs of the parameters we send (pg_type.h); explicit so that binary values are never
// read as another type.
constexpr Oid kInt8 = 20;
constexpr Oid kText = 25;
constexpr Oid kBytea = 17;

// libpq caps a statement at 65,535 parameters; multi-row statements are split below that.
constexpr size_t kMaxParameters = 60'000;

std::string trimmed(const char* message) {
  std::string s = message ? message : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

Error pg_error(PGconn* c, const std::string& what) { return Error{0, "PostgreSQL: " + what + ": " + trimmed(pq().PQerrorMessage(c))}; }

// A PGresult that clears itself.
class PgResult {
 public:
  explicit PgResult(PGresult* r = nullptr) : r_(r) {}
  ~PgResult() { pq().PQclear(r_); }
  PgResult(PgResult&& o) noexcept : r_(o.r_) { o.r_ = nullptr; }
  PgResult& operator=(PgResult&& o) noexcept {
    std::swap(r_, o.r_);
    return *this;
  }
  PgResult(const PgResult&) = delete;
  PgResult& operator=(const PgResult&) = delete;

  PGresult* get() const { return r_; }
  explicit operator bool() const { return r_ != nullptr; }
  ExecStatusType status() const { return pq().PQresultStatus(r_); }
  bool ok() const { return r_ && (status() == PGRES_COMMAND_OK || status() == PGRES_TUPLES_OK); }
  std::string error() const { return trimmed(pq().PQresultErrorMessage(r_)); }
  int rows() const { return pq().PQntuples(r_); }
  bool null(int row, int col) const { return pq().PQgetisnull(r_, row, col) != 0; }
  // Binary-format columns.
  int64_t int8(int row, int col) const {
    uint64_t be = 0;
    std::memcpy(&be, pq().PQgetvalue(r_, row, col), sizeof be);
    return static_cast<int64_t>(be64toh(be));
  }
  std::string text(int row, int col) const { return {pq().PQgetvalue(r_, row, col), static_cast<size_t>(pq().PQgetlength(r_, row, col))}; }
  std::vector<uint8_t> bytes(int row, int col) const {
    const auto* p = reinterpret_cast<const uint8_t*>(pq().PQgetvalue(r_, row, col));
    return {p, p + pq().PQgetlength(r_, row, col)};
  }

 private:
  PGresult* r_;
};

// The parameters of one statement, in binary format; values stay where they are until sent.
class Params {
 public:
  void int8(int64_t v) {
    uint64_t be = htobe64(static_cast<uint64_t>(v));
    add(std::string(reinterpret_cast<const char*>(&be), sizeof be), kInt8);
  }
  void text(const std::string& s) { add(s, kText); }
  void bytes(const std::vector<uint8_t>& b) { add(std::string(b.begin(), b.end()), kBytea); }
  size_t size() const { return storage_.size(); }

  // Sends the statement (pipeline mode or not); results come in binary format.
  bool send(PGconn* c, const std::string& sql) {
    std::vector<const char*> values;
    std::vector<int> lengths, formats;
    for (const std::string& s : storage_) {
      values.push_back(s.data());
      lengths.push_back(static_cast<int>(s.size()));
      formats.push_back(1);
    }
    return pq().PQsendQueryParams(c, sql.c_str(), static_cast<int>(size()), types_.data(), values.data(), lengths.data(),
                             formats.data(), 1) == 1;
  }
  PgResult exec(PGconn* c, const std::string& sql) {
    std::vector<const char*> values;
    std::vector<int> lengths, formats;
    for (const std::string& s : storage_) {
      values.push_back(s.data());
      lengths.push_back(static_cast<int>(s.size()));
      formats.push_back(1);
    }
    return PgResult(pq().PQexecParams(c, sql.c_str(), static_cast<int>(size()), types_.data(), values.data(), lengths.data(),
                                 formats.data(), 1));
  }

 private:
  void add(std::string value, Oid type) {
    storage_.push_back(std::move(value));
    types_.push_back(type);
  }
  std::deque<std::string> storage_;
  std::vector<Oid> types_;
};

// One statement of a batch's pipeline.
struct Statement {
  std::string sql;
  Params params;
};

Status exec(PGconn* c, const char* sql) {
  PgResult r(pq().PQexec(c, sql));
  if (!r.ok()) return Error{0, "PostgreSQL: " + std::string(sql).substr(0, 60) + ": " + (r ? r.error() : trimmed(pq().PQerrorMessage(c)))};
  return {};
}

// Undoes an open transaction; a failure here leaves nothing more to undo (or no connection).
void rollback(PGconn* c) {
  if (pq().PQstatus(c) == CONNECTION_OK && pq().PQtransactionStatus(c) != PQTRANS_IDLE) pq().PQclear(pq().PQexec(c, "ROLLBACK"));
}

// "($1, $2), ($3, $4)" for rows × columns placeholders.
std::string placeholders(size_t rows, size_t columns) {
  std::string out;
  size_t n = 1;
  for (size_t r = 0; r < rows; ++r) {
    out += r == 0 ? "(" : ", (";
    for (size_t c = 0; c < columns; ++c) {
      if (c > 0) out += ", ";
      out += "$" + std::to_string(n++);
    }
    out += ")";
  }
  return out;
}

std::string seconds_string(std::chrono::milliseconds ms) { return std::to_string(std::max<int64_t>(1, ms.count() / 1000)); }

// The notice receiver of every session: quiet (no NOTICE lines from CREATE TABLE IF NOT EXISTS on
// the node's stderr), except that it remembers, in *ending when given, a FATAL or PANIC the server
// sent while the session was idle: its last words before it ends the session (pg_terminate_backend,
// a shutdown), which may arrive well before the end of the stream itself.
void note_server_ending(void* ending, const PGresult* notice) {
  if (ending == nullptr) return;
  const char* severity = pq().PQresultErrorField(notice, PG_DIAG_SEVERITY_NONLOCALIZED);
  if (severity != nullptr && (std::string_view(severity) == "FATAL" || std::string_view(severity) == "PANIC")) {
    *static_cast<bool*>(ending) = true;
  }
}

Result<PGconn*> connect(const PostgresOptions& options, bool* ending = nullptr) {
  if (Status s = check_postgres_conninfo(options.conninfo); !s) return s.error();
  char* parse_error = nullptr;
  PQconninfoOption* parsed = pq().PQconninfoParse(options.conninfo.c_str(), &parse_error);
  pq().PQfreemem(parse_error);
  std::vector<std::pair<std::string, std::string>> settings;
  for (PQconninfoOption* o = parsed; o && o->keyword; ++o) {
    if (o->val != nullptr) settings.emplace_back(o->keyword, o->val);
  }
  pq().PQconninfoFree(parsed);
  auto set_default = [&](const std::string& key, const std::string& value) {
    for (const auto& [k, v] : settings) {
      if (k == key) return;
    }
    settings.emplace_back(key, value);
  };
  // A dead host (no RST, no answer) is noticed within about dead_peer_timeout: keepalive probes
  // while waiting for an answer, and tcp_user_timeout for data the host never acknowledged.
  const int64_t timeout_ms = std::max<int64_t>(1000, options.dead_peer_timeout.count());
  const std::string probe = seconds_string(std::chrono::milliseconds(timeout_ms / 3));
  set_default("keepalives", "1");
  set_default("keepalives_idle", probe);
  set_default("keepalives_interval", probe);
  set_default("keepalives_count", "2");
  set_default("tcp_user_timeout", std::to_string(timeout_ms));
  set_default("connect_timeout", std::to_string(std::max<int64_t>(2, timeout_ms / 1000)));
  set_default("application_name", options.application_name);
  if (!libpq_tls_available()) {
    // libpq's defaults (prefer) would try TLS, or GSSAPI encryption, with an OpenSSL that is not
    // its own here.
    set_default("sslmode", "disable");
    set_default("gssencmode", "disable");
  }
  if (!options.password.empty()) settings.emplace_back("password", options.password);
  // A node frozen halfway through sending a batch (SIGSTOP, a stall) leaves its transaction open
  // on the server, holding the pair's lease row that ix_check_fence() locked: the backup could not
  // take the lease until the node woke. The server ends such a session after half a lease-timeout
  // (well within the backup's bound; a batch arrives in one flight, so a live node is never idle
  // inside a transaction that long), which rolls the transaction back and frees the row. Set as a
  // startup option, so a session PQreset() reopens has it too.
  const std::string idle = "-c idle_in_transaction_session_timeout=" + std::to_string(timeout_ms / 2);
  bool appended = false;
  for (auto& [k, v] : settings) {
    if (k == "options") {
      v += " " + idle;
      appended = true;
    }
  }
  if (!appended) settings.emplace_back("options", idle);

  std::vector<const char*> keys, values;
  for (const auto& [k, v] : settings) {
    keys.push_back(k.c_str());
    values.push_back(v.c_str());
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  PGconn* c = pq().PQconnectdbParams(keys.data(), values.data(), 0);
  if (c == nullptr) return Error{0, "PostgreSQL: out of memory"};
  if (pq().PQstatus(c) != CONNECTION_OK) {
    Error e = pg_error(c, "cannot connect");
    pq().PQfinish(c);
    return e;
  }
  pq().PQsetNoticeReceiver(c, &note_server_ending, ending);
  return c;
}

// Schema migrations, in order: kMigrations[i] takes version i to version i + 1. The same tables
// as SqliteStore's, so that `ixctl store copy` moves rows one for one.
const char* const kMigrations[] = {
    R"(CREATE TABLE interactions (
         id TEXT PRIMARY KEY,
         tenant TEXT NOT NULL,
         state INTEGER NOT NULL,
         data BYTEA NOT NULL);
       CREATE TABLE event_log (
         seq BIGINT PRIMARY KEY,
         timestamp_us BIGINT NOT NULL,
         tenant TEXT NOT NULL,
         frame BYTEA NOT NULL);
       CREATE TABLE counters (
         name TEXT PRIMARY KEY,
         value BIGINT NOT NULL);)",
    // Named leases (lease_table.h); a released lease keeps its row so its fencing is never reused.
    R"(CREATE TABLE leases (
         name TEXT PRIMARY KEY,
         holder TEXT NOT NULL,
         fencing BIGINT NOT NULL,
         expires_ms BIGINT NOT NULL);)",
    // The fence (store.h, set_fence): the first statement of every fenced batch. It locks the
    // pair's lease row until COMMIT and fails the transaction (SQLSTATE IXF01) unless the row
    // still names this holder and epoch.
    R"(CREATE FUNCTION ix_check_fence(lease_name TEXT, expected_holder TEXT, expected_epoch BIGINT)
       RETURNS VOID LANGUAGE plpgsql AS $fence$
       DECLARE
         current_holder TEXT;
         current_epoch BIGINT;
       BEGIN
         SELECT holder, fencing INTO current_holder, current_epoch FROM leases WHERE name = lease_name FOR UPDATE;
         IF NOT FOUND THEN
           current_holder := '';
           current_epoch := 0;
         END IF;
         IF current_holder <> expected_holder OR current_epoch <> expected_epoch THEN
           RAISE EXCEPTION USING ERRCODE = 'IXF01', MESSAGE = format(
             'fenced: the pair''s lease is at epoch %s held by %s, this node''s epoch was %s', current_epoch,
             CASE WHEN current_holder = '' THEN 'nobody' ELSE current_holder END, expected_epoch);
         END IF;
       END
       $fence$;)",
    // Submit idempotency keys (store.h: PutSubmitKey), kept for the pair's submit-key-window.
    R"(CREATE TABLE submit_keys (
         key TEXT PRIMARY KEY,
         interaction_id TEXT NOT NULL,
         recorded_us BIGINT NOT NULL);
       CREATE INDEX submit_keys_recorded ON submit_keys (recorded_us);)",
};
static_assert(std::size(kMigrations) == PostgresStore::kSchemaVersion);

Status migrate(PGconn* c) {
  // One transaction, serialised by an advisory lock: the pair's two nodes may start together,
  // and CREATE TABLE IF NOT EXISTS alone is not safe against a concurrent creator.
  if (Status s = exec(c, "BEGIN"); !s) return s;
  Status result = [&]() -> Status {
    if (Status s = exec(c, "SELECT pg_advisory_xact_lock(7361002)"); !s) return s;
    if (Status s = exec(c, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"); !s) return s;
    PgResult read(pq().PQexec(c, "SELECT version FROM schema_version"));
    if (!read.ok()) return Error{0, "PostgreSQL: reading the schema version: " + read.error()};
    const int version = read.rows() > 0 ? std::atoi(pq().PQgetvalue(read.get(), 0, 0)) : 0;
    if (version > PostgresStore::kSchemaVersion) {
      return Error{0, "PostgreSQL database " + std::string(pq().PQdb(c)) + " has schema version " + std::to_string(version) +
                          ", newer than this ixnode's " + std::to_string(PostgresStore::kSchemaVersion)};
    }
    for (int v = version; v < PostgresStore::kSchemaVersion; ++v) {
      if (Status s = exec(c, kMigrations[v]); !s) {
        return Error{0, "migrating to schema version " + std::to_string(v + 1) + " failed: " + s.error().text};
      }
    }
    if (version < PostgresStore::kSchemaVersion) {
      const std::string update = version == 0 ? "INSERT INTO schema_version VALUES (" + std::to_string(PostgresStore::kSchemaVersion) + ")"
                                              : "UPDATE schema_version SET version = " + std::to_string(PostgresStore::kSchemaVersion);
      if (Status s = exec(c, update.c_str()); !s) return s;
    }
    return {};
  }();
  if (!result) {
    rollback(c);
    return result;
  }
  return exec(c, "COMMIT");
}

// Multi-row INSERT statements for rows of `columns` values each, split below libpq's limit.
class RowStatements {
 public:
  RowStatements(std::string head, std::string tail, size_t columns)
      : head_(std::move(head)), tail_(std::move(tail)), columns_(columns) {}
  Params& row() {
    if (current_ == nullptr || rows_ * columns_ + columns_ > kMaxParameters) flush_pending();
    ++rows_;
    return *current_;
  }
  // Appends the statements built so far to `out`.
  void flush(std::vector<Statement>& out) {
    if (current_ != nullptr && rows_ > 0) {
      out.push_back({head_ + placeholders(rows_, columns_) + tail_, std::move(*current_)});
    }
    current_.reset();
    rows_ = 0;
    for (Statement& s : done_) out.push_back(std::move(s));
    done_.clear();
  }

 private:
  void flush_pending() {
    if (current_ != nullptr && rows_ > 0) done_.push_back({head_ + placeholders(rows_, columns_) + tail_, std::move(*current_)});
    current_ = std::make_unique<Params>();
    rows_ = 0;
  }
  std::string head_, tail_;
  size_t columns_;
  std::unique_ptr<Params> current_;
  size_t rows_ = 0;
  std::vector<Statement> done_;
};

}  // namespace

Result<PGconn*> connect_postgres(const PostgresOptions& options) { return connect(options); }

Status check_postgres_conninfo(const std::string& conninfo) {
  if (auto loaded = load_libpq(); !loaded) return loaded.error();
  char* parse_error = nullptr;
  PQconninfoOption* parsed = pq().PQconninfoParse(conninfo.c_str(), &parse_error);
  if (parsed == nullptr) {
    std::string why = trimmed(parse_error ? parse_error : "out of memory");
    pq().PQfreemem(parse_error);
    return Error{0, "storage.postgresql is not a valid libpq connection string: " + why};
  }
  bool has_password = false;
  std::string sslmode;
  for (PQconninfoOption* o = parsed; o->keyword; ++o) {
    if (std::strcmp(o->keyword, "password") == 0 && o->val != nullptr && o->val[0] != '\0') has_password = true;
    if (std::strcmp(o->keyword, "sslmode") == 0 && o->val != nullptr) sslmode = o->val;
  }
  pq().PQconninfoFree(parsed);
  if (has_password) {
    return Error{0, "storage.postgresql must not contain a password: put it in the environment variable named by "
                    "postgresql-password-env (or in a ~/.pgpass file)"};
  }
  if (!sslmode.empty() && sslmode != "disable" && !libpq_tls_available()) {
    return Error{0, "storage.postgresql asks for sslmode=" + sslmode +
                        ", but TLS to PostgreSQL is not available in this process: " + libpq_tls_unavailable_reason() +
                        " (node/store/libpq_api.h); use sslmode=disable on a trusted network"};
  }
  return {};
}

Result<std::unique_ptr<PostgresStore>> PostgresStore::open(uv_loop_t* loop, PostgresOptions options) {
  std::unique_ptr<PostgresStore> store(new PostgresStore(std::move(options)));
  auto writer = connect(store->options_, &store->writer_ending_);
  if (!writer) return writer.error();
  store->writer_ = *writer;
  if (Status s = migrate(store->writer_); !s) return s.error();
  auto reader = connect(store->options_, &store->reader_ending_);
  if (!reader) return reader.error();
  store->reader_ = *reader;
  store->refresh_first_seq();
  store->start(loop);
  return store;
}

PostgresStore::~PostgresStore() {
  close();
  if (reader_) pq().PQfinish(reader_);
  if (writer_) pq().PQfinish(writer_);
}

Status PostgresStore::ensure_connected(pg_conn*& connection, bool& ending) {
  // An idle session the server ended (pg_terminate_backend, a restart) shows only when read:
  // libpq's socket never blocks, so this reads what is there and parses it (PQisBusy) — the
  // server's last words, which note_server_ending() remembers, and the end of the stream if it
  // has arrived.
  if (pq().PQstatus(connection) == CONNECTION_OK && pq().PQconsumeInput(connection) == 1) pq().PQisBusy(connection);
  if (pq().PQstatus(connection) == CONNECTION_OK && !ending) return {};
  ending = false;
  pq().PQreset(connection);
  if (pq().PQstatus(connection) != CONNECTION_OK) return pg_error(connection, "the connection was lost and cannot be reopened");
  return {};
}

std::optional<uint64_t> PostgresStore::read_first_seq() {
  if (pq().PQstatus(writer_) != CONNECTION_OK) return std::nullopt;
  PgResult r(pq().PQexecParams(writer_, "SELECT COALESCE(MIN(seq), 0)::bigint FROM event_log", 0, nullptr, nullptr, nullptr, nullptr, 1));
  if (!r.ok() || r.rows() != 1) return std::nullopt;
  return static_cast<uint64_t>(r.int8(0, 0));
}

Status PostgresStore::apply(std::vector<Pending>& batch, const Fence& fence) {
  if (Status s = ensure_connected(writer_, writer_ending_); !s) return s;

  // Statements in the order they run. The event log keeps the order of appends and trims (a
  // trim sees the events before it); interactions and counters need only their final value per
  // key, so each key appears once and a multi-row statement per table is exact.
  std::vector<Statement> statements;
  statements.push_back({"BEGIN", {}});
  if (fence.epoch != 0) {
    Statement check{"SELECT ix_check_fence($1, $2, $3)", {}};
    check.params.text(fence.lease_name);
    check.params.text(fence.holder);
    check.params.int8(static_cast<int64_t>(fence.epoch));
    statements.push_back(std::move(check));
  }
  RowStatements events("INSERT INTO event_log (seq, timestamp_us, tenant, frame) VALUES ", "", 4);
  std::unordered_map<std::string, const StoredInteraction*> interactions;  // nullptr: deleted
  std::unordered_map<std::string, uint64_t> counters;
  // Submit keys keep their order against trims of the keys (a trim sees the keys before it);
  // a key appears once per multi-row statement, as ON CONFLICT DO UPDATE requires.
  std::unordered_map<std::string, const PutSubmitKey*> submit_keys;
  const auto flush_submit_keys = [&] {
    RowStatements rows("INSERT INTO submit_keys (key, interaction_id, recorded_us) VALUES ",
                       " ON CONFLICT (key) DO UPDATE SET interaction_id = EXCLUDED.interaction_id, recorded_us = EXCLUDED.recorded_us", 3);
    for (const auto& [key, put] : submit_keys) {
      Params& row = rows.row();
      row.text(put->key);
      row.text(put->interaction_id);
      row.int8(put->recorded_us);
    }
    rows.flush(statements);
    submit_keys.clear();
  };
  for (Pending& p : batch) {
    for (const Mutation& m : p.transaction.mutations) {
      if (const auto* pi = std::get_if<PutInteraction>(&m)) {
        interactions[pi->interaction.id] = &pi->interaction;
      } else if (const auto* di = std::get_if<DeleteInteraction>(&m)) {
        interactions[di->id] = nullptr;
      } else if (const auto* ae = std::get_if<AppendEvent>(&m)) {
        Params& row = events.row();
        row.int8(static_cast<int64_t>(ae->event.seq));
        row.int8(ae->event.timestamp_us);
        row.text(ae->event.tenant);
        row.bytes(ae->event.frame);
      } else if (const auto* sc = std::get_if<SetCounter>(&m)) {
        counters[sc->name] = sc->value;
      } else if (const auto* te = std::get_if<TrimEvents>(&m)) {
        events.flush(statements);
        // The prefix older than the cut-off (sqlite_store.cc: the cost is the rows removed, not the log).
        Statement trim{"DELETE FROM event_log WHERE seq < COALESCE((SELECT seq FROM event_log WHERE timestamp_us >= $1 ORDER BY seq"
                       " LIMIT 1), (SELECT MAX(seq) FROM event_log))", {}};
        trim.params.int8(te->before_timestamp_us);
        statements.push_back(std::move(trim));
      } else if (const auto* pk = std::get_if<PutSubmitKey>(&m)) {
        submit_keys[pk->key] = pk;
      } else if (const auto* tk = std::get_if<TrimSubmitKeys>(&m)) {
        flush_submit_keys();
        Statement trim{"DELETE FROM submit_keys WHERE recorded_us < $1", {}};
        trim.params.int8(tk->before_us);
        statements.push_back(std::move(trim));
      }
    }
  }
  events.flush(statements);
  flush_submit_keys();
  RowStatements puts("INSERT INTO interactions (id, tenant, state, data) VALUES ",
                     " ON CONFLICT (id) DO UPDATE SET tenant = EXCLUDED.tenant, state = EXCLUDED.state, data = EXCLUDED.data", 4);
  RowStatements deletes("DELETE FROM interactions WHERE id IN (SELECT * FROM (VALUES ", ") AS d)", 1);
  for (const auto& [id, interaction] : interactions) {
    if (interaction == nullptr) {
      deletes.row().text(id);
      continue;
    }
    Params& row = puts.row();
    row.text(interaction->id);
    row.text(interaction->tenant);
    row.int8(interaction->state);
    row.bytes(interaction->data);
  }
  puts.flush(statements);
  deletes.flush(statements);
  RowStatements counter_rows("INSERT INTO counters (name, value) VALUES ", " ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value", 2);
  for (const auto& [name, value] : counters) {
    Params& row = counter_rows.row();
    row.text(name);
    row.int8(static_cast<int64_t>(value));
  }
  counter_rows.flush(statements);
  statements.push_back({"COMMIT", {}});

  // One flight: every statement, then a sync; then the answers in order.
  if (pq().PQenterPipelineMode(writer_) != 1) return pg_error(writer_, "entering pipeline mode");
  std::string failure;
  bool fenced = false;
  for (Statement& s : statements) {
    if (!s.params.send(writer_, s.sql)) {
      failure = "sending a batch: " + trimmed(pq().PQerrorMessage(writer_));
      break;
    }
  }
  if (failure.empty() && pq().PQpipelineSync(writer_) != 1) failure = "sending a batch: " + trimmed(pq().PQerrorMessage(writer_));
  if (failure.empty()) {
    bool synced = false;
    while (!synced) {
      PgResult r(pq().PQgetResult(writer_));
      if (!r) {
        if (pq().PQstatus(writer_) != CONNECTION_OK) {
          failure = "the connection was lost during a commit: " + trimmed(pq().PQerrorMessage(writer_));
          break;
        }
        continue;  // the end of one statement's results
      }
      switch (r.status()) {
        case PGRES_PIPELINE_SYNC:
          synced = true;
          break;
        case PGRES_COMMAND_OK:
        case PGRES_TUPLES_OK:
        case PGRES_PIPELINE_ABORTED:
          break;
        default:
          if (failure.empty()) {
            const char* state = pq().PQresultErrorField(r.get(), PG_DIAG_SQLSTATE);
            fenced = state != nullptr && std::strcmp(state, "IXF01") == 0;
            const char* primary = pq().PQresultErrorField(r.get(), PG_DIAG_MESSAGE_PRIMARY);
            failure = fenced && primary ? primary : "writing a transaction: " + r.error();
          }
          if (pq().PQstatus(writer_) != CONNECTION_OK) synced = true;
          break;
      }
    }
  }
  if (pq().PQstatus(writer_) == CONNECTION_OK) {
    pq().PQexitPipelineMode(writer_);
    if (!failure.empty()) rollback(writer_);
  }
  if (fenced) return Error{kFencedErrorCode, failure};
  if (!failure.empty()) return Error{0, "PostgreSQL: " + failure};
  return {};
}

Result<LeaseOutcome> PostgresStore::apply_lease(const LeaseCommand& command) {
  if (Status s = ensure_connected(writer_, writer_ending_); !s) return s.error();
  // A first acquirer of a name inserts its row; a concurrent first acquirer through the other
  // node loses that insert and decides again, now against the row (a handful of rounds at most).
  for (int attempt = 0; attempt < 5; ++attempt) {
    bool retry = false;
    auto outcome = try_lease_once(command, retry);
    rollback(writer_);  // nothing open after success; after a failure, undo it
    if (!retry) return outcome;
  }
  return Error{0, "PostgreSQL: lease " + command.name + " is contended; try again"};
}

Result<LeaseOutcome> PostgresStore::try_lease_once(const LeaseCommand& command, bool& retry) {
  if (Status s = exec(writer_, "BEGIN"); !s) return s.error();
  // A holder frozen while its batch's results were on their way (SIGSTOP, a stall) keeps its
  // transaction open and the pair's lease row locked (ix_check_fence): the server is not idle in
  // that transaction (idle_in_transaction_session_timeout does not end it), it waits for the
  // frozen process to read. So an acquire waits for the row at most a backup's try interval.
  const bool pair_acquire = command.op == LeaseOp::kAcquire && command.name == kPairLeaseName;
  if (pair_acquire) {
    const int64_t wait_ms = std::max<int64_t>(50, options_.dead_peer_timeout.count() / 5);
    if (Status s = exec(writer_, ("SET LOCAL lock_timeout = " + std::to_string(wait_ms)).c_str()); !s) return s.error();
  }
  std::optional<LeaseRecord> current;
  {
    Params p;
    p.text(command.name);
    PgResult read = p.exec(writer_, "SELECT holder, fencing, expires_ms FROM leases WHERE name = $1 FOR UPDATE");
    if (pair_acquire && read && !read.ok()) {
      const char* state = pq().PQresultErrorField(read.get(), PG_DIAG_SQLSTATE);
      if (state != nullptr && std::strcmp(state, "55P03") == 0) return take_from_frozen_holder(command, retry);  // lock_not_available
    }
    if (!read.ok()) return Error{0, "PostgreSQL: reading a lease: " + (read ? read.error() : trimmed(pq().PQerrorMessage(writer_)))};
    if (read.rows() == 1) current = LeaseRecord{command.name, read.text(0, 0), static_cast<uint64_t>(read.int8(0, 1)), read.int8(0, 2)};
  }
  LeaseOutcome outcome = decide_lease(current, command);
  if (outcome.changed) {
    Params p;
    p.text(outcome.record.name);
    p.text(outcome.record.holder);
    p.int8(static_cast<int64_t>(outcome.record.fencing));
    p.int8(outcome.record.expires_ms);
    PgResult write = current ? p.exec(writer_, "UPDATE leases SET holder = $2, fencing = $3, expires_ms = $4 WHERE name = $1")
                             : p.exec(writer_, "INSERT INTO leases (name, holder, fencing, expires_ms) VALUES ($1, $2, $3, $4) "
                                               "ON CONFLICT (name) DO NOTHING");
    if (!write.ok()) return Error{0, "PostgreSQL: writing a lease: " + (write ? write.error() : trimmed(pq().PQerrorMessage(writer_)))};
    if (std::strcmp(pq().PQcmdTuples(write.get()), "1") != 0) {
      retry = true;  // another acquirer created the row first
      return Error{0, "retry"};
    }
  }
  if (Status s = exec(writer_, "COMMIT"); !s) return s.error();
  return outcome;
}

Result<LeaseOutcome> PostgresStore::take_from_frozen_holder(const LeaseCommand& command, bool& retry) {
  rollback(writer_);
  Params p;
  p.text(command.name);
  // The row as last committed: the holder's last renewal.
  PgResult read = p.exec(writer_, "SELECT holder, fencing, expires_ms FROM leases WHERE name = $1");
  if (!read.ok() || read.rows() != 1) {
    return Error{0, "PostgreSQL: reading a locked lease: " + (read ? read.error() : trimmed(pq().PQerrorMessage(writer_)))};
  }
  const LeaseRecord current{command.name, read.text(0, 0), static_cast<uint64_t>(read.int8(0, 1)), read.int8(0, 2)};
  // Still within its term: a holder that is merely busy keeps the row (and its lease); not
  // granted this time (even to this holder: nothing was written).
  if (lease_held(current, command.now_ms)) {
    LeaseOutcome busy;
    busy.record = busy.previous = current;
    return busy;
  }
  // Run out: its open transaction can only be a deposed holder's, which would be fenced anyway.
  // End that session (PostgreSQL then rolls the transaction back and frees the row), and try again.
  PgResult ended = p.exec(writer_,
                          "SELECT pg_terminate_backend(l.pid) FROM leases r JOIN pg_locks l ON l.locktype = 'transactionid' "
                          "AND l.transactionid = r.xmax AND l.granted AND l.mode = 'ExclusiveLock' "
                          "WHERE r.name = $1 AND l.pid <> pg_backend_pid()");
  if (!ended.ok()) {
    return Error{0, "PostgreSQL: ending the session that holds an expired lease: " +
                        (ended ? ended.error() : trimmed(pq().PQerrorMessage(writer_)))};
  }
  if (ended.rows() > 0) {
    spdlog::warn("event=lease_holder_session_ended lease={} holder={} epoch={} sessions={} reason={}", quote(command.name),
                 quote(current.holder), current.fencing, ended.rows(),
                 quote("its lease ran out while its open transaction kept the lease row locked (a stalled holder)"));
  }
  retry = true;
  return Error{0, "retry"};
}

Result<LoadedState> PostgresStore::load() {
  std::lock_guard lock(reader_mutex_);
  if (Status s = ensure_connected(reader_, reader_ending_); !s) return s.error();
  // One snapshot for the three reads. A read changes nothing: on a session found dead only now,
  // it starts again once on a new one.
  Status begun = exec(reader_, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  if (!begun && pq().PQstatus(reader_) != CONNECTION_OK) {
    if (Status s = ensure_connected(reader_, reader_ending_); !s) return s.error();
    begun = exec(reader_, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  }
  if (!begun) return begun.error();
  Result<LoadedState> result = [&]() -> Result<LoadedState> {
    LoadedState state;
    Params none;
    // COLLATE "C": byte order, as SQLite sorts.
    PgResult rows = none.exec(reader_, "SELECT id, tenant, state::bigint, data FROM interactions ORDER BY id COLLATE \"C\"");
    if (!rows.ok()) return Error{0, "PostgreSQL: loading interactions: " + rows.error()};
    for (int i = 0; i < rows.rows(); ++i) {
      state.interactions.push_back({rows.text(i, 0), rows.text(i, 1), static_cast<int>(rows.int8(i, 2)), rows.bytes(i, 3)});
    }
    PgResult seq = none.exec(reader_, "SELECT COALESCE(MAX(seq), 0)::bigint FROM event_log");
    if (!seq.ok()) return Error{0, "PostgreSQL: reading the event log: " + seq.error()};
    state.last_seq = static_cast<uint64_t>(seq.int8(0, 0));
    // The other node may have written since open(): the first seq is read again too.
    PgResult first = none.exec(reader_, "SELECT COALESCE(MIN(seq), 0)::bigint FROM event_log");
    if (!first.ok()) return Error{0, "PostgreSQL: reading the event log: " + first.error()};
    first_seq_.store(static_cast<uint64_t>(first.int8(0, 0)));
    PgResult counters = none.exec(reader_, "SELECT name, value FROM counters ORDER BY name COLLATE \"C\"");
    if (!counters.ok()) return Error{0, "PostgreSQL: reading counters: " + counters.error()};
    for (int i = 0; i < counters.rows(); ++i) state.counters.emplace_back(counters.text(i, 0), static_cast<uint64_t>(counters.int8(i, 1)));
    PgResult keys = none.exec(reader_, "SELECT key, interaction_id, recorded_us FROM submit_keys ORDER BY recorded_us, key COLLATE \"C\"");
    if (!keys.ok()) return Error{0, "PostgreSQL: reading submit keys: " + keys.error()};
    for (int i = 0; i < keys.rows(); ++i) state.submit_keys.push_back({keys.text(i, 0), keys.text(i, 1), keys.int8(i, 2)});
    return state;
  }();
  if (!result) {
    rollback(reader_);
    return result;
  }
  if (Status s = exec(reader_, "COMMIT"); !s) return s.error();
  return result;
}

Result<std::vector<StoredEvent>> PostgresStore::read(uint64_t after_seq, size_t limit) {
  std::lock_guard lock(reader_mutex_);
  Params p;
  p.int8(static_cast<int64_t>(after_seq));
  p.int8(static_cast<int64_t>(std::min<size_t>(limit, INT64_MAX)));
  const char* sql = "SELECT seq, timestamp_us, tenant, frame FROM event_log WHERE seq > $1 ORDER BY seq LIMIT $2";
  if (Status s = ensure_connected(reader_, reader_ending_); !s) return s.error();
  PgResult r = p.exec(reader_, sql);
  // A read changes nothing, so a session the server ended (found only now) is reopened and the
  // read tried once more.
  if (!r.ok() && pq().PQstatus(reader_) != CONNECTION_OK) {
    if (Status s = ensure_connected(reader_, reader_ending_); !s) return s.error();
    r = p.exec(reader_, sql);
  }
  if (!r.ok()) return Error{0, "PostgreSQL: reading the event log: " + (r ? r.error() : trimmed(pq().PQerrorMessage(reader_)))};
  std::vector<StoredEvent> out;
  out.reserve(static_cast<size_t>(r.rows()));
  for (int i = 0; i < r.rows(); ++i) out.push_back({static_cast<uint64_t>(r.int8(i, 0)), r.int8(i, 1), r.text(i, 2), r.bytes(i, 3)});
  return out;
}

}  // namespace ix::node
