// Failover time of a real node pair: how long from losing the primary to the first submit the
// backup acknowledges, over several runs, for two ways of losing it:
//   kill -9  the primary dies while a client keeps 16 submits in flight on it;
//   SIGSTOP  the primary freezes and stays frozen: idle on SQLite (a SQLite primary frozen
//            inside a commit keeps SQLite's write lock until it resumes, see
//            docs/operations.md), with 16 submits in flight on PostgreSQL (--stop-idle: idle).
// A client registered on the backup sends a submit every 5 ms (NotPrimary until it takes over);
// the time is taken at its first EventSubmitted. Goal: lease-timeout + 1 s in every run. Also
// printed: the pair's time without a primary as the backup measured it (its `no_primary_ms`:
// from the old holder's last renewal to its own takeover).
//
//   failover_bench IXNODE [--runs 5] [--lease-timeout-ms 1000] [--store sqlite|postgresql]
//                  [--postgresql CONNINFO] [--password-env VAR] [--stop-idle]
//
// --store postgresql writes `storage.postgresql = CONNINFO` (and postgresql-password-env) into
// the pair's configuration instead of a SQLite file in a fresh folder; the database is shared by
// the runs, as a pair's is. Without --postgresql the bench starts a private PostgreSQL server on
// loopback (tests/support/postgres_server.h, fsync on) and uses a fresh database of it.
#include <CLI/CLI.hpp>
#include <uv.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <vector>

#include "protocol/net/connection.h"
#include "protocol/wire/messages.h"
#include "tests/support/frame_peers.h"
#include "tests/support/ports.h"
#include "tests/support/postgres_server.h"
#include "tests/support/process.h"

namespace {

using namespace ix;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string ixnode;
  int runs = 5;
  uint64_t lease_timeout_ms = 1000;
  std::string store = "sqlite";
  std::string postgresql;
  std::string password_env;
  bool stop_idle = false;  // SIGSTOP an idle primary on PostgreSQL too
};

// One run's figures, in milliseconds (no_primary: -1 when the backup's log does not say).
struct RunTimes {
  double first_submit = -1;
  double no_primary = -1;
};

// The backup's own measure of the pair's time without a primary, from its `event=primary` line.
double no_primary_ms(const std::filesystem::path& log) {
  std::ifstream in(log);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t at = text.find("no_primary_ms=");
  return at == std::string::npos ? -1 : std::stod(text.substr(at + 14));
}

proto::RequestSubmitT submit_request() {
  proto::RequestSubmitT r;
  r.tenant_id = "101";
  r.media_type = "chat";
  r.queue = "inbound";
  r.interaction_type = "Inbound";
  return r;
}

// One registered connection, driven by polling the loop.
class Peer {
 public:
  Peer(uv_loop_t* loop, uint16_t port) : loop_(loop) {
    for (int attempt = 0; attempt < 400 && !role_; ++attempt) {
      client_.emplace(test::connect_to(loop, port));
      client_->send(wire::encode_register_client(1, proto::ClientType::MediaServer, "failover-bench", {}));
      const auto until = Clock::now() + std::chrono::milliseconds(50);
      while (!role_ && Clock::now() < until) poll();
      if (!role_) {
        client_->connection().abort("retry");
        poll();
        client_.reset();
      }
    }
    if (!role_) {
      std::fprintf(stderr, "failover_bench: cannot register on port %u\n", port);
      std::exit(1);
    }
  }
  ~Peer() {
    if (client_) client_->connection().abort("done");
    poll();
  }

  void poll() {
    uv_run(loop_, UV_RUN_NOWAIT);
    if (!client_) return;
    for (; seen_ < client_->received.size(); ++seen_) {
      const auto& e = client_->received[seen_];
      if (const auto* r = e->body.AsEventClientRegistered()) role_ = r->role;
      if (const auto* c = e->body.AsEventServerRoleChanged()) role_ = c->role;
      if (e->body.AsEventSubmitted()) ++acknowledged_;
      if (e->ref_id > 1) ++answered_;
    }
  }
  void submit() {
    client_->send(wire::encode_frame(next_ref_++, 0, submit_request()));
    ++sent_;
  }
  bool primary() const { return role_ == proto::ServerRole::Primary; }
  bool closed() const { return client_->closed; }
  uint64_t acknowledged() const { return acknowledged_; }
  uint64_t in_flight() const { return sent_ - answered_; }

 private:
  uv_loop_t* loop_;
  std::optional<test::FrameClient> client_;
  size_t seen_ = 0;
  std::optional<proto::ServerRole> role_;
  uint64_t next_ref_ = 2, sent_ = 0, answered_ = 0, acknowledged_ = 0;
};

std::string config(const Options& o, const std::vector<uint16_t>& ports) {
  std::string storage = o.store == "postgresql" ? "postgresql = \"" + o.postgresql + "\"\n" +
                                                      (o.password_env.empty() ? "" : "postgresql-password-env = \"" + o.password_env + "\"\n")
                                                : "sqlite-path = \"pair.db\"\n";
  return "[[tenants]]\nid = \"101\"\n[[media-types]]\nname = \"chat\"\n[[node-pairs]]\nid = \"bench\"\ntag = \"b1\"\n"
         "tenants = [\"101\"]\n[node-pairs.primary]\nhost = \"127.0.0.1\"\nport = " + std::to_string(ports[0]) +
         "\nadmin-port = " + std::to_string(ports[1]) + "\n[node-pairs.backup]\nhost = \"127.0.0.1\"\nport = " +
         std::to_string(ports[2]) + "\nadmin-port = " + std::to_string(ports[3]) + "\n[node-pairs.storage]\n" + storage +
         "[node-pairs.settings]\nlease-timeout = \"" + std::to_string(o.lease_timeout_ms) + "ms\"\n" +
         "[[queues]]\nid = \"inbound\"\ntenant = \"101\"\n";
}

// One run: a fresh pair, the primary lost by `signal`; milliseconds to the backup's first
// acknowledged submit, and without a primary.
RunTimes run_once(const Options& o, int signal, int run) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("ix-failover-bench-" + std::to_string(::getpid()) + "-" + std::to_string(run) + "-" + std::to_string(signal));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  uv_loop_t loop;
  uv_loop_init(&loop);
  const std::vector<uint16_t> ports = test::unused_ports(&loop, 4);
  std::ofstream(dir / "cluster.toml") << config(o, ports);
  auto node = [&](const char* role) {
    auto p = std::make_unique<test::Process>(std::vector<std::string>{o.ixnode, "--config", (dir / "cluster.toml").string(),
                                                                      "--node", "bench", "--role", role},
                                             (dir / (std::string(role) + ".log")).string());
    p->start();
    return p;
  };
  auto primary = node("primary");
  double took_ms = -1;
  {
    Peer stream(&loop, ports[0]);
    while (!stream.primary()) stream.poll();
    auto backup = node("backup");
    std::optional<Peer> standby;
    standby.emplace(&loop, ports[2]);
    // The backup must be competing (registered as backup) before the primary goes.
    const bool under_load = signal == SIGKILL || (o.store == "postgresql" && !o.stop_idle);
    const auto warm = Clock::now() + std::chrono::milliseconds(300);
    while (Clock::now() < warm) {
      while (under_load && stream.in_flight() < 16) stream.submit();
      stream.poll();
    }
    if (!under_load) {
      while (stream.in_flight() > 0) stream.poll();  // idle: nothing in flight when it freezes
    }
    const auto lost = Clock::now();
    primary->signal(signal);
    auto next_try = lost;
    const auto give_up = lost + std::chrono::milliseconds(10 * o.lease_timeout_ms + 10'000);
    while (standby->acknowledged() == 0 && Clock::now() < give_up) {
      if (Clock::now() >= next_try && standby->in_flight() < 4) {
        standby->submit();
        next_try = Clock::now() + std::chrono::milliseconds(5);
      }
      standby->poll();
      if (!stream.closed()) stream.poll();
    }
    if (standby->acknowledged() > 0) took_ms = std::chrono::duration<double, std::milli>(Clock::now() - lost).count();
    standby.reset();
    backup->kill(SIGTERM);
  }
  primary->signal(SIGCONT);
  primary->kill(SIGKILL);
  primary.reset();
  uv_run(&loop, UV_RUN_NOWAIT);
  uv_loop_close(&loop);
  if (took_ms < 0) {
    std::fprintf(stderr, "failover_bench: run %d: the backup did not serve (logs in %s)\n", run, dir.c_str());
    std::exit(1);
  }
  const RunTimes times{took_ms, no_primary_ms(dir / "backup.log")};
  std::filesystem::remove_all(dir);
  return times;
}

void report(const char* what, const std::vector<RunTimes>& runs, uint64_t lease_timeout_ms) {
  std::vector<double> ms, without;
  for (const RunTimes& r : runs) {
    ms.push_back(r.first_submit);
    if (r.no_primary >= 0) without.push_back(r.no_primary);
  }
  std::sort(ms.begin(), ms.end());
  std::sort(without.begin(), without.end());
  const double goal = static_cast<double>(lease_timeout_ms) + 1000;
  std::printf("%-8s -> first acknowledged submit on the backup: min %6.0f ms  median %6.0f ms  max %6.0f ms   (%zu runs; goal <= %.0f ms: %s)\n",
              what, ms.front(), ms[ms.size() / 2], ms.back(), ms.size(), goal, ms.back() <= goal ? "met" : "MISSED");
  if (!without.empty()) {
    std::printf("%-8s -> without a primary (the backup's no_primary_ms): min %6.0f ms  median %6.0f ms  max %6.0f ms\n", what,
                without.front(), without[without.size() / 2], without.back());
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"failover_bench: failover time of a real ixnode pair (kill -9 and SIGSTOP of the primary)"};
  app.add_option("ixnode", o.ixnode, "the ixnode binary")->required()->check(CLI::ExistingFile);
  app.add_option("--runs", o.runs, "runs of each kind")->check(CLI::Range(1, 100))->capture_default_str();
  app.add_option("--lease-timeout-ms", o.lease_timeout_ms, "the pair's lease-timeout")->check(CLI::Range(1000, 60000))->capture_default_str();
  app.add_option("--store", o.store, "the pair's store")->check(CLI::IsMember({"sqlite", "postgresql"}))->capture_default_str();
  app.add_option("--postgresql", o.postgresql, "libpq connection string (with --store postgresql)");
  app.add_option("--password-env", o.password_env, "environment variable holding the PostgreSQL password");
  app.add_flag("--stop-idle", o.stop_idle, "SIGSTOP an idle primary on PostgreSQL too (default: with 16 submits in flight)");
  CLI11_PARSE(app, argc, argv);
  std::signal(SIGPIPE, SIG_IGN);
  std::unique_ptr<test::PostgresServer> own_server;
  if (o.store == "postgresql" && o.postgresql.empty()) {
    auto server = test::PostgresServer::start({.durable = true});
    if (!server) {
      std::fprintf(stderr, "failover_bench: cannot start a PostgreSQL server: %s\n", server.error().text.c_str());
      return 3;
    }
    own_server = std::move(server.value());
    auto database = own_server->create_database();
    if (!database) {
      std::fprintf(stderr, "failover_bench: %s\n", database.error().text.c_str());
      return 3;
    }
    o.postgresql = *database;
  }
  std::printf("failover_bench: store %s, lease-timeout %llu ms, %d runs each, SIGSTOP %s\n", o.store.c_str(),
              static_cast<unsigned long long>(o.lease_timeout_ms), o.runs,
              o.store == "postgresql" && !o.stop_idle ? "with 16 submits in flight" : "of an idle primary");
  std::vector<RunTimes> killed, stopped;
  for (int i = 0; i < o.runs; ++i) {
    killed.push_back(run_once(o, SIGKILL, i));
    stopped.push_back(run_once(o, SIGSTOP, i));
    std::printf("run %d: kill -9 %.0f ms (no primary %.0f ms), SIGSTOP %.0f ms (no primary %.0f ms)\n", i + 1,
                killed.back().first_submit, killed.back().no_primary, stopped.back().first_submit, stopped.back().no_primary);
    std::fflush(stdout);
  }
  report("kill -9", killed, o.lease_timeout_ms);
  report("SIGSTOP", stopped, o.lease_timeout_ms);
  return 0;
}
