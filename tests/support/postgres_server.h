// PostgresServer: a private PostgreSQL server for tests and benchmarks — `initdb` into a
// temporary folder and `postgres` on a free loopback port (TCP only, trust authentication for
// the user "ix", TLS offered with the test CA's certificate), torn down (stopped, folder removed) with the object. When the tests run as root
// the server runs as the package's unprivileged "postgres" user (PostgreSQL refuses root), which
// owns the folder.
//
// PostgresEnvironment: one server per test process, started on the first fresh_database() (a
// process that runs only SQLite tests never starts one) and stopped at the end. Each test takes a
// fresh database, so the tests stay independent and fast. Under CTest the whole suite shares one
// server: the `PostgresServer.Start` fixture (postgres_test_server start DIR) starts it detached
// and writes DIR/conninfo, and the tests find DIR in IX_TEST_POSTGRES_DIR; a missing file there
// fails the test — nothing is skipped because PostgreSQL is absent.
//
// Everything here runs on the test's thread.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "protocol/result.h"

namespace ix::test {

struct PostgresServerOptions {
  bool durable = false;   // fsync on (benchmarks); tests run with fsync off
  bool detached = false;  // the server outlives this process (the CTest fixture); else it dies with it
};

class PostgresServer {
 public:
  // initdb + start; waits until the server accepts connections.
  static Result<std::unique_ptr<PostgresServer>> start(PostgresServerOptions options = {});
  // A detached server that `postgres_test_server start DIR` left running.
  static Result<std::unique_ptr<PostgresServer>> attach(const std::string& dir);
  // Stops a detached server (postgres_test_server stop DIR) and removes its folder.
  static Status stop_detached(const std::string& dir);

  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  int port() const { return port_; }
  const std::string& dir() const { return dir_; }
  // A libpq connection string for one database of this server (no TLS, no password).
  std::string conninfo(const std::string& database) const;
  // The server also speaks TLS with a certificate for 127.0.0.1 and localhost (test_certs.h)
  // signed by the CA in this file: sslmode=verify-full sslrootcert=ca_file().
  std::string ca_file() const { return dir_ + "/ca.pem"; }
  // Creates an empty database with a name no other test uses; returns its connection string.
  Result<std::string> create_database();
  // Runs SQL in a database (default: the maintenance database "postgres").
  Status execute(const std::string& sql, const std::string& database = "postgres") const;
  // Runs a query that returns one value; the value as text.
  Result<std::string> query_value(const std::string& sql, const std::string& database) const;

  // Stops the server (fast shutdown: sessions are terminated) and starts it again on the same
  // port and data; for tests of a database restart. Only for a server this process started.
  Status stop();
  Status restart();

 private:
  PostgresServer() = default;
  Status launch();
  Status wait_ready();

  PostgresServerOptions options_;
  std::string dir_;   // holds data/, the log and (detached) conninfo
  std::string bin_;   // the PostgreSQL binaries' folder
  int port_ = 0;
  int pid_ = -1;      // the postmaster, when started by this process
  bool owned_ = true; // stop and remove on destruction
  int databases_ = 0;
};

class PostgresEnvironment : public ::testing::Environment {
 public:
  // The environment of this test process (registered on first use).
  static PostgresEnvironment& get();
  // The server, started (or attached) on first use; fails the calling test if it cannot.
  PostgresServer* server();
  // A fresh, empty database's connection string; "" (and a failed test) if no server.
  std::string fresh_database();
  void TearDown() override;

 private:
  std::unique_ptr<PostgresServer> server_;
  std::string failure_;
};

}  // namespace ix::test
