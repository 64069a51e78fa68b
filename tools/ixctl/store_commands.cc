#include "tools/ixctl/store_commands.h"

#include <sqlite3.h>
#include <uv.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>

#include "node/store/libpq_api.h"
#include "node/store/postgres_store.h"
#include "node/store/sqlite_store.h"
#include "tools/ixctl/output.h"

namespace ix::tools {

namespace {

using node::pq;

// What both sides must agree on after the copy.
struct Summary {
  int64_t interactions = 0;
  int64_t events = 0;
  int64_t min_seq = 0;
  int64_t max_seq = 0;
  int64_t seq_sum = 0;  // with the count and the bounds: the same set of seqs
  int64_t counters = 0;
  int64_t leases = 0;
  int64_t submit_keys = 0;

  bool operator==(const Summary&) const = default;
};

std::string describe(const Summary& s) {
  return std::to_string(s.interactions) + " interactions, " + std::to_string(s.events) + " events (seq " +
         std::to_string(s.min_seq) + ".." + std::to_string(s.max_seq) + "), " + std::to_string(s.counters) + " counters, " +
         std::to_string(s.leases) + " leases, " + std::to_string(s.submit_keys) + " submit keys";
}

// The SQLite side, read-only.
class Source {
 public:
  ~Source() { sqlite3_close(db_); }

  Status open(const std::string& path) {
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
      return Error{0, "cannot open SQLite database \"" + path + "\": " + sqlite3_errmsg(db_)};
    }
    auto version = integer("SELECT version FROM schema_version");
    if (!version) return Error{0, "\"" + path + "\" is not an ixnode database (no schema version)"};
    if (*version > node::SqliteStore::kSchemaVersion) {
      return Error{0, "\"" + path + "\" has schema version " + std::to_string(*version) + ", newer than this ixctl's " +
                          std::to_string(node::SqliteStore::kSchemaVersion)};
    }
    has_leases_ = integer("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'leases'").value_or(0) == 1;
    has_submit_keys_ = integer("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'submit_keys'").value_or(0) == 1;
    return {};
  }

  // The pair lease, if a node holds it now: then the pair is running and the copy would race it.
  std::optional<std::string> running_holder() {
    if (!has_leases_) return std::nullopt;
    sqlite3_stmt* s = prepare("SELECT holder, expires_ms FROM leases WHERE name = ?");
    sqlite3_bind_text(s, 1, node::kPairLeaseName, -1, SQLITE_STATIC);
    std::optional<std::string> holder;
    const int64_t now_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_bytes(s, 0) > 0 && sqlite3_column_int64(s, 1) > now_ms) {
      holder = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
    }
    sqlite3_finalize(s);
    return holder;
  }

  Summary summary() {
    Summary s;
    s.interactions = integer("SELECT count(*) FROM interactions").value_or(-1);
    s.events = integer("SELECT count(*) FROM event_log").value_or(-1);
    s.min_seq = integer("SELECT COALESCE(MIN(seq), 0) FROM event_log").value_or(-1);
    s.max_seq = integer("SELECT COALESCE(MAX(seq), 0) FROM event_log").value_or(-1);
    s.seq_sum = integer("SELECT COALESCE(SUM(seq), 0) FROM event_log").value_or(-1);
    s.counters = integer("SELECT count(*) FROM counters").value_or(-1);
    s.leases = has_leases_ ? integer("SELECT count(*) FROM leases").value_or(-1) : 0;
    s.submit_keys = has_submit_keys_ ? integer("SELECT count(*) FROM submit_keys").value_or(-1) : 0;
    return s;
  }

  sqlite3_stmt* prepare(const char* sql) {
    sqlite3_stmt* s = nullptr;
    sqlite3_prepare_v2(db_, sql, -1, &s, nullptr);
    return s;
  }
  bool has_leases() const { return has_leases_; }
  bool has_submit_keys() const { return has_submit_keys_; }
  const char* error() const { return sqlite3_errmsg(db_); }

 private:
  std::optional<int64_t> integer(const char* sql) {
    sqlite3_stmt* s = prepare(sql);
    if (s == nullptr) return std::nullopt;
    std::optional<int64_t> v;
    if (sqlite3_step(s) == SQLITE_ROW) v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return v;
  }

  sqlite3* db_ = nullptr;
  bool has_leases_ = false;
  bool has_submit_keys_ = false;  // from schema version 3
};

std::string column_text(sqlite3_stmt* s, int col) {
  const auto* p = sqlite3_column_text(s, col);
  return p ? std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(s, col))) : "";
}
std::vector<uint8_t> column_blob(sqlite3_stmt* s, int col) {
  const auto* p = static_cast<const uint8_t*>(sqlite3_column_blob(s, col));
  return p ? std::vector<uint8_t>(p, p + sqlite3_column_bytes(s, col)) : std::vector<uint8_t>();
}

// One value from the target, as an integer.
Result<int64_t> pg_integer(PGconn* c, const char* sql) {
  PGresult* r = pq().PQexec(c, sql);
  Result<int64_t> out = Error{0, std::string("PostgreSQL: ") + sql + ": " + pq().PQresultErrorMessage(r)};
  if (pq().PQresultStatus(r) == PGRES_TUPLES_OK && pq().PQntuples(r) == 1) out = std::strtoll(pq().PQgetvalue(r, 0, 0), nullptr, 10);
  pq().PQclear(r);
  return out;
}

Result<Summary> target_summary(PGconn* c) {
  Summary s;
  const std::pair<int64_t*, const char*> reads[] = {
      {&s.interactions, "SELECT count(*) FROM interactions"},
      {&s.events, "SELECT count(*) FROM event_log"},
      {&s.min_seq, "SELECT COALESCE(MIN(seq), 0) FROM event_log"},
      {&s.max_seq, "SELECT COALESCE(MAX(seq), 0) FROM event_log"},
      {&s.seq_sum, "SELECT COALESCE(SUM(seq), 0) FROM event_log"},
      {&s.counters, "SELECT count(*) FROM counters"},
      {&s.leases, "SELECT count(*) FROM leases"},
      {&s.submit_keys, "SELECT count(*) FROM submit_keys"},
  };
  for (const auto& [field, sql] : reads) {
    auto v = pg_integer(c, sql);
    if (!v) return v.error();
    *field = *v;
  }
  return s;
}

// Commits transactions through the store, a few in flight at a time, and waits for them.
class Writer {
 public:
  Writer(uv_loop_t* loop, node::Store& store) : loop_(loop), store_(store) {}
  void commit(node::Transaction t) {
    ++in_flight_;
    store_.commit(std::move(t), [this](const Status& s) {
      --in_flight_;
      if (!s && !failure_) failure_ = s.error();
    });
    while (in_flight_ >= 4) uv_run(loop_, UV_RUN_ONCE);
  }
  Status finish() {
    while (in_flight_ > 0) uv_run(loop_, UV_RUN_ONCE);
    if (failure_) return *failure_;
    return {};
  }

 private:
  uv_loop_t* loop_;
  node::Store& store_;
  int in_flight_ = 0;
  std::optional<Error> failure_;
};

constexpr size_t kRowsPerTransaction = 2000;

Status copy_rows(Source& source, Writer& writer) {
  struct Table {
    const char* sql;
    std::function<node::Mutation(sqlite3_stmt*)> row;
    bool present = true;
  };
  const Table tables[] = {
      {"SELECT id, tenant, state, data FROM interactions",
       [](sqlite3_stmt* s) {
         return node::Mutation{node::PutInteraction{
             {column_text(s, 0), column_text(s, 1), sqlite3_column_int(s, 2), column_blob(s, 3)}}};
       }},
      {"SELECT seq, timestamp_us, tenant, frame FROM event_log ORDER BY seq",
       [](sqlite3_stmt* s) {
         return node::Mutation{node::AppendEvent{{static_cast<uint64_t>(sqlite3_column_int64(s, 0)), sqlite3_column_int64(s, 1),
                                                  column_text(s, 2), column_blob(s, 3)}}};
       }},
      {"SELECT name, value FROM counters",
       [](sqlite3_stmt* s) {
         return node::Mutation{node::SetCounter{column_text(s, 0), static_cast<uint64_t>(sqlite3_column_int64(s, 1))}};
       }},
      {"SELECT key, interaction_id, recorded_us FROM submit_keys",
       [](sqlite3_stmt* s) {
         return node::Mutation{node::PutSubmitKey{column_text(s, 0), column_text(s, 1), sqlite3_column_int64(s, 2)}};
       },
       source.has_submit_keys()},
  };
  for (const Table& table : tables) {
    if (!table.present) continue;
    sqlite3_stmt* s = source.prepare(table.sql);
    if (s == nullptr) return Error{0, std::string("reading the SQLite database: ") + source.error()};
    node::Transaction t;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
      t.mutations.push_back(table.row(s));
      if (t.mutations.size() == kRowsPerTransaction) writer.commit(std::exchange(t, {}));
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) return Error{0, std::string("reading the SQLite database: ") + source.error()};
    if (!t.mutations.empty()) writer.commit(std::move(t));
  }
  return writer.finish();
}

// The lease table as it is, fencing numbers included, so that no term is ever granted twice.
Status copy_leases(Source& source, PGconn* c) {
  if (!source.has_leases()) return {};
  sqlite3_stmt* s = source.prepare("SELECT name, holder, fencing, expires_ms FROM leases");
  if (s == nullptr) return Error{0, std::string("reading the SQLite leases: ") + source.error()};
  Status result;
  PGresult* begin = pq().PQexec(c, "BEGIN");
  pq().PQclear(begin);
  while (result && sqlite3_step(s) == SQLITE_ROW) {
    const std::string values[] = {column_text(s, 0), column_text(s, 1), std::to_string(sqlite3_column_int64(s, 2)),
                                  std::to_string(sqlite3_column_int64(s, 3))};
    const char* params[] = {values[0].c_str(), values[1].c_str(), values[2].c_str(), values[3].c_str()};
    PGresult* r = pq().PQexecParams(c, "INSERT INTO leases (name, holder, fencing, expires_ms) VALUES ($1, $2, $3::bigint, $4::bigint)",
                                    4, nullptr, params, nullptr, nullptr, 0);
    if (pq().PQresultStatus(r) != PGRES_COMMAND_OK) result = Error{0, std::string("PostgreSQL: writing a lease: ") + pq().PQresultErrorMessage(r)};
    pq().PQclear(r);
  }
  sqlite3_finalize(s);
  PGresult* end = pq().PQexec(c, result ? "COMMIT" : "ROLLBACK");
  if (result && pq().PQresultStatus(end) != PGRES_COMMAND_OK) result = Error{0, std::string("PostgreSQL: ") + pq().PQresultErrorMessage(end)};
  pq().PQclear(end);
  return result;
}

int copy(const std::string& from, const std::string& to, const std::string& password_env) {
  const std::string sqlite_prefix = "sqlite:", pg_prefix = "postgresql:";
  if (from.rfind(sqlite_prefix, 0) != 0 || from.size() == sqlite_prefix.size()) {
    std::cerr << "ixctl store copy: --from must be sqlite:PATH\n";
    return kExitUsage;
  }
  if (to.rfind(pg_prefix, 0) != 0 || to.size() == pg_prefix.size()) {
    std::cerr << "ixctl store copy: --to must be postgresql:CONNINFO\n";
    return kExitUsage;
  }
  node::PostgresOptions options;
  options.conninfo = to.substr(pg_prefix.size());
  options.application_name = "ixctl store copy";
  if (!password_env.empty()) {
    const char* password = std::getenv(password_env.c_str());
    if (password == nullptr) {
      std::cerr << "ixctl store copy: --password-env names " << password_env << ", which is not set\n";
      return kExitUsage;
    }
    options.password = password;
  }
  if (Status s = node::check_postgres_conninfo(options.conninfo); !s) {
    std::cerr << "ixctl store copy: " << s.error().text << "\n";
    return kExitUsage;
  }

  Source source;
  if (Status s = source.open(from.substr(sqlite_prefix.size())); !s) {
    std::cerr << "ixctl store copy: " << s.error().text << "\n";
    return kExitRefused;
  }
  if (auto holder = source.running_holder()) {
    std::cerr << "ixctl store copy: the pair is running (" << *holder
              << " holds its lease); stop both nodes first: the copy is offline\n";
    return kExitRefused;
  }

  uv_loop_t loop;
  uv_loop_init(&loop);
  int code = kExitOk;
  {
    auto store = node::PostgresStore::open(&loop, options);  // creates or migrates the schema
    auto connection = store ? node::connect_postgres(options) : Result<PGconn*>(store.error());
    if (!store || !connection) {
      std::cerr << "ixctl store copy: " << (store ? connection.error().text : store.error().text) << "\n";
      code = kExitUnreachable;
    } else {
      std::unique_ptr<PGconn, void (*)(PGconn*)> c(*connection, [](PGconn* p) { pq().PQfinish(p); });
      auto before = target_summary(c.get());
      if (!before || *before != Summary{}) {
        std::cerr << "ixctl store copy: "
                  << (before ? "the target database already holds " + describe(*before) + "; copy only into an empty database"
                             : before.error().text)
                  << "\n";
        code = kExitRefused;
      } else {
        Writer writer(&loop, **store);
        Status copied = copy_rows(source, writer);
        if (copied) copied = copy_leases(source, c.get());
        const Summary expected = source.summary();
        auto after = copied ? target_summary(c.get()) : Result<Summary>(copied.error());
        if (!after) {
          std::cerr << "ixctl store copy: " << after.error().text << "\n";
          code = kExitRefused;
        } else if (*after != expected) {
          std::cerr << "ixctl store copy: verification failed: the source holds " << describe(expected) << ", the target "
                    << describe(*after) << "\n";
          code = kExitRefused;
        } else {
          std::cout << "copied and verified: " << describe(*after) << "\n";
        }
      }
      (*store)->close();
    }
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  return code;
}

}  // namespace

void add_store_commands(CLI::App& app, int& exit_code) {
  CLI::App* store = app.add_subcommand("store", "Work with a node pair's database (offline)");
  store->require_subcommand(1);
  CLI::App* copy_command = store->add_subcommand(
      "copy", "Copy a stopped pair's SQLite database into an empty PostgreSQL database, and verify the copy");
  auto from = std::make_shared<std::string>();
  auto to = std::make_shared<std::string>();
  auto password_env = std::make_shared<std::string>();
  copy_command->add_option("--from", *from, "sqlite:PATH — the pair's SQLite database")->required();
  copy_command->add_option("--to", *to, "postgresql:CONNINFO — a libpq connection string, without a password")->required();
  copy_command->add_option("--password-env", *password_env, "environment variable that holds the PostgreSQL password");
  copy_command->callback([from, to, password_env, &exit_code] { exit_code = copy(*from, *to, *password_env); });
}

}  // namespace ix::tools
