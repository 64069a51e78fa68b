// Submit throughput of a real ixnode process, side by side with its baselines, in one run:
//   1. ixnode on SQLite, group commit (the default), durable commits (synchronous=FULL);
//   2. the same ixnode with --commit-mode single: one SQLite transaction per submit;
//   3. ixnode on PostgreSQL (a private server on loopback, fsync on), group commit, and
//   4. with --commit-mode single: one PostgreSQL transaction per submit;
//   5. raw SQLite on the same disk: the same rows inserted one durable transaction each, and
//      all in one transaction (the store's ceiling).
// The client keeps `window` submits in flight on one connection.
//
//   node_submit_bench IXNODE [submits=20000] [window=500]
#include <sqlite3.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "protocol/net/connection.h"
#include "protocol/wire/kv.h"
#include "protocol/wire/messages.h"
#include "tests/support/frame_peers.h"
#include "tests/support/postgres_server.h"
#include "tests/support/process.h"

namespace {

using namespace ix;
using Clock = std::chrono::steady_clock;

// storage: the [node-pairs.storage] table's body.
std::string config(uint16_t port, uint16_t admin, uint16_t backup, uint16_t backup_admin, const std::string& storage) {
  return "[[tenants]]\nid = \"101\"\n[[media-types]]\nname = \"chat\"\n[[node-pairs]]\nid = \"bench\"\ntag = \"b1\"\n"
         "tenants = [\"101\"]\n[node-pairs.primary]\nhost = \"127.0.0.1\"\nport = " + std::to_string(port) +
         "\nadmin-port = " + std::to_string(admin) + "\n[node-pairs.backup]\nhost = \"127.0.0.1\"\nport = " +
         std::to_string(backup) + "\nadmin-port = " + std::to_string(backup_admin) +
         "\n[node-pairs.storage]\n" + storage + "\n[[queues]]\nid = \"inbound\"\ntenant = \"101\"\n";
}

// Runs `submits` submits against a fresh ixnode; returns submits per second.
double node_rate(const std::string& ixnode, const std::string& mode, int submits, int window, const std::string& storage) {
  auto dir = std::filesystem::temp_directory_path() / ("ix-bench-" + std::to_string(::getpid()) + "-" + mode);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  uv_loop_t loop;
  uv_loop_init(&loop);
  uint16_t ports[4];
  const std::vector<uint16_t> free_ports = test::unused_ports(&loop, 4);
  std::copy(free_ports.begin(), free_ports.end(), ports);
  std::ofstream(dir / "cluster.toml") << config(ports[0], ports[1], ports[2], ports[3], storage);
  test::Process node({ixnode, "--config", (dir / "cluster.toml").string(), "--node", "bench", "--role", "primary",
                      "--commit-mode", mode, "--log-level", "warn"},
                     (dir / "ixnode.log").string());
  node.start();

  std::shared_ptr<net::Connection> connection;
  bool registered = false;
  int acked = 0, sent = 0;
  Clock::time_point started;
  wire::FrameDecoder decoder;
  proto::RequestSubmitT submit;
  submit.tenant_id = "101";
  submit.media_type = "chat";
  submit.queue = "inbound";
  submit.user_data = wire::kv_list({{"Subject", "benchmark"}, {"CustomerId", "c-1"}, {"Score", 5}});
  const wire::Frame frame = wire::encode_frame(2, 0, submit);
  // Until the node listens and is primary (it opens its store and takes the lease first).
  bool closed = false;
  for (auto deadline = Clock::now() + std::chrono::seconds(60); !registered && Clock::now() < deadline;) {
    connection = test::connect_to(&loop, ports[0]);
    closed = false;
    connection->set_on_close([&](const std::string&) { closed = true; });
    connection->set_on_data([&](std::span<const uint8_t> d) {
      decoder.feed(d, [&](std::span<const uint8_t> payload) {
        auto e = wire::verify_envelope(payload);
        if (!e.ok()) return;
        if ((*e)->body_type() == proto::Message::EventClientRegistered) {
          registered = (*e)->body_as_EventClientRegistered()->role() == proto::ServerRole::Primary;
        } else if ((*e)->body_type() == proto::Message::EventSubmitted) {
          ++acked;
        } else if ((*e)->body_type() == proto::Message::EventError) {
          std::fprintf(stderr, "error: %s\n", (*e)->body_as_EventError()->text()->c_str());
          std::exit(1);
        }
      });
    });
    connection->write(wire::encode_register_client(1, proto::ClientType::MediaServer, "bench", {}));
    auto until = Clock::now() + std::chrono::milliseconds(50);
    while (!registered && !closed && Clock::now() < until) uv_run(&loop, UV_RUN_NOWAIT);
    if (!registered) {
      connection->abort("retry");
      uv_run(&loop, UV_RUN_NOWAIT);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  if (!registered) {
    std::fprintf(stderr, "ixnode (%s) did not become primary within 60 s; its log: %s\n", mode.c_str(),
                 (dir / "ixnode.log").c_str());
    std::exit(1);
  }
  started = Clock::now();
  while (acked < submits) {
    while (sent < submits && sent - acked < window) {
      connection->write(frame);
      ++sent;
    }
    uv_run(&loop, UV_RUN_ONCE);
    if (closed) {
      std::fprintf(stderr, "ixnode (%s) closed the connection after %d of %d acknowledged submits; its log: %s\n", mode.c_str(),
                   acked, submits, (dir / "ixnode.log").c_str());
      std::exit(1);
    }
  }
  double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  connection->abort("done");
  node.kill(SIGTERM);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  std::filesystem::remove_all(dir);
  return submits / seconds;
}

// Raw SQLite: the same shape of rows (an interaction and two events per submit).
double sqlite_rate(int rows, bool one_transaction) {
  auto path = std::filesystem::temp_directory_path() / ("ix-bench-raw-" + std::to_string(::getpid()) + ".db");
  std::filesystem::remove(path);
  sqlite3* db;
  sqlite3_open(path.c_str(), &db);
  sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                   "CREATE TABLE interactions (id TEXT PRIMARY KEY, tenant TEXT, state INTEGER, data BLOB);"
                   "CREATE TABLE event_log (seq INTEGER PRIMARY KEY, timestamp_us INTEGER, tenant TEXT, frame BLOB);",
               nullptr, nullptr, nullptr);
  sqlite3_stmt* put;
  sqlite3_stmt* event;
  sqlite3_prepare_v2(db, "INSERT INTO interactions VALUES (?, '101', 1, ?)", -1, &put, nullptr);
  sqlite3_prepare_v2(db, "INSERT INTO event_log VALUES (?, 0, '101', ?)", -1, &event, nullptr);
  std::vector<uint8_t> blob(300, 7), frame(200, 9);
  auto started = Clock::now();
  if (one_transaction) sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
  for (int i = 0; i < rows; ++i) {
    if (!one_transaction) sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
    std::string id = "b1-" + std::to_string(i);
    sqlite3_bind_text(put, 1, id.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_blob(put, 2, blob.data(), static_cast<int>(blob.size()), SQLITE_STATIC);
    sqlite3_step(put);
    sqlite3_reset(put);
    for (int k = 0; k < 2; ++k) {
      sqlite3_bind_int64(event, 1, 2 * i + k + 1);
      sqlite3_bind_blob(event, 2, frame.data(), static_cast<int>(frame.size()), SQLITE_STATIC);
      sqlite3_step(event);
      sqlite3_reset(event);
    }
    if (!one_transaction) sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
  }
  if (one_transaction) sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
  double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  sqlite3_finalize(put);
  sqlite3_finalize(event);
  sqlite3_close(db);
  std::filesystem::remove(path);
  return rows / seconds;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: node_submit_bench IXNODE [submits] [window]\n");
    return 2;
  }
  const std::string ixnode = argv[1];
  const int submits = argc > 2 ? std::atoi(argv[2]) : 20'000;
  const int window = argc > 3 ? std::atoi(argv[3]) : 500;
  std::printf("submits=%d window=%d (one transaction each: %d submits, window %d) (durable commits: SQLite synchronous=FULL; PostgreSQL fsync=on, synchronous_commit=on)\n",
              submits, window, std::min(submits, 2000), std::min(window, 50));
  auto server = test::PostgresServer::start({.durable = true});
  if (!server) {
    std::fprintf(stderr, "no PostgreSQL server: %s\n", server.error().text.c_str());
    return 1;
  }
  auto postgres_storage = [&]() {
    auto database = (*server)->create_database();
    if (!database) {
      std::fprintf(stderr, "%s\n", database.error().text.c_str());
      std::exit(1);
    }
    return "postgresql = \"" + *database + "\"";
  };
  const std::string sqlite_storage = "sqlite-path = \"bench.db\"";
  const int single_submits = std::min(submits, 2000);
  const double group = node_rate(ixnode, "group", submits, window, sqlite_storage);
  // One transaction per submit: a shorter queue, so that the pair's lease renewals (queued
  // behind the commits) are not starved past the serving window.
  const int single_window = std::min(window, 50);
  const double single = node_rate(ixnode, "single", single_submits, single_window, sqlite_storage);
  const double pg_group = node_rate(ixnode, "group", submits, window, postgres_storage());
  const double pg_single = node_rate(ixnode, "single", single_submits, single_window, postgres_storage());
  const double raw_each = sqlite_rate(single_submits, false);
  const double raw_one = sqlite_rate(submits, true);
  std::printf("ixnode on SQLite, group commit            %10.0f submits/s\n", group);
  std::printf("ixnode on SQLite, one transaction each    %10.0f submits/s   (group commit gain x%.1f)\n", single, group / single);
  std::printf("ixnode on PostgreSQL, group commit        %10.0f submits/s   (%.0f%% of SQLite's)\n", pg_group,
              100.0 * pg_group / group);
  std::printf("ixnode on PostgreSQL, one transaction each%10.0f submits/s   (group commit gain x%.1f)\n", pg_single,
              pg_group / pg_single);
  std::printf("raw SQLite, one transaction each          %10.0f rows/s\n", raw_each);
  std::printf("raw SQLite, one transaction               %10.0f rows/s      (ixnode reaches %.0f%% of it)\n", raw_one,
              100.0 * group / raw_one);
  return 0;
}
