// A real ixnode pair whose store is PostgreSQL (storage.postgresql, a fresh database of the
// suite's server): the pair's durability promises, as on SQLite — kill -9 the primary under a
// stream of submits and every acknowledged submit is served by the backup, with the event log
// numbered without gap or duplicate; the database ends the pair's sessions (pg_terminate_backend,
// what a PostgreSQL failover or restart does) and nothing acknowledged is lost while a node
// serves again; PostgreSQL itself restarted under submits, the same; a SIGSTOPped primary is
// replaced within the lease and commits nothing when it wakes; TLS with sslmode=verify-full.
#include <gtest/gtest.h>

#include <flatbuffers/idl.h>

#include <fstream>

#include "tests/node/node_fixture.h"
#include "tests/support/frame_peers.h"
#include "tests/support/postgres_server.h"

namespace ix::test {
namespace {

using proto::ClientType;
using proto::Message;

class PostgresPairTest : public NodePairFixture {
 protected:
  void SetUp() override {
    pg_ = PostgresEnvironment::get().server();
    conninfo_ = PostgresEnvironment::get().fresh_database();
    ASSERT_FALSE(conninfo_.empty());
    NodePairFixture::SetUp();
  }

  std::string config_text() override {
    ConfigBuilder c;
    c.tenant("101").media_type("chat");
    c.node_pair("pair-1", "p1", {"101"}, {"chat"})
        .endpoint("primary", primary_port_, primary_admin_)
        .endpoint("backup", backup_port_, backup_admin_)
        .set_in("storage", "postgresql", conninfo_)
        .setting("lease-timeout", "2s");
    c.queue("inbound", "101");
    return c.text();
  }

  // Every acknowledged submit is there, and the event log is 1..N without gap or duplicate.
  void expect_everything_acknowledged_is_served(uint16_t port, const std::vector<std::string>& acknowledged) {
    auto media = client(port, ClientType::MediaServer, proto::ServerRole::Primary);
    ASSERT_NE(media, nullptr);
    for (const std::string& id : acknowledged) {
      proto::RequestGetPropertiesT get;
      get.interaction_id = id;
      EnvelopePtr reply = media->call(get);
      ASSERT_NE(reply, nullptr);
      ASSERT_NE(reply->body.AsEventProperties(), nullptr) << "acknowledged " << id << " was lost";
    }
    auto last = pg_->query_value("SELECT COALESCE(MAX(seq), 0) FROM event_log", database());
    ASSERT_TRUE(last.ok()) << last.error().text;
    const size_t last_seq = std::stoul(*last);
    EXPECT_GE(last_seq, 2 * acknowledged.size()) << "a submit writes two events";
    auto stats = client(port, ClientType::ReportingEngine, proto::ServerRole::Primary);
    ASSERT_NE(stats, nullptr);
    proto::RequestStartReportingT start;
    auto resume = std::make_unique<proto::ResumePositionT>();
    resume->node_id = "pair-1";
    resume->seq = 0;
    start.resume.push_back(std::move(resume));
    EnvelopePtr ack = stats->call(start);
    ASSERT_TRUE(ack && ack->body.type == Message::EventAck);
    stats->wait_for_events(last_seq, 20'000);
    std::vector<uint64_t> seqs;
    for (const EnvelopePtr& e : stats->events) {
      flatbuffers::FlatBufferBuilder b;
      proto::FinishEnvelopeBuffer(b, proto::Envelope::Pack(b, e.get()));
      if (const proto::ReportingHeader* h = wire::reporting_header(*proto::GetEnvelope(b.GetBufferPointer()))) seqs.push_back(h->seq());
    }
    ASSERT_GE(seqs.size(), last_seq);
    for (size_t i = 0; i < seqs.size(); ++i) ASSERT_EQ(seqs[i], i + 1) << "gap or duplicate at position " << i;
  }

  std::string database() const {
    std::string d = conninfo_.substr(conninfo_.find("dbname=") + 7);
    return d.substr(0, d.find(' '));
  }

  // A stream of submits on one connection, many in flight.
  struct SubmitStream {
    SubmitStream(TestLoop& loop, uint16_t port) : client(connect_to(loop.get(), port)) {
      client.send(wire::encode_register_client(1, ClientType::MediaServer, "stream", {}));
    }
    void send_batch(int n) {
      for (int i = 0; i < n; ++i) client.send(wire::encode_frame(next_ref++, 0, submit_request()));
    }
    std::vector<std::string> acknowledged() const {
      std::vector<std::string> out;
      for (const auto& e : client.received) {
        if (e && e->body.AsEventSubmitted()) out.push_back(e->body.AsEventSubmitted()->interaction_id);
      }
      return out;
    }
    FrameClient client;
    uint64_t next_ref = 2;
  };

  // {interactions, events} in the pair's database, as text ("12,24").
  std::string rows() {
    auto r = pg_->query_value("SELECT (SELECT count(*) FROM interactions) || ',' || (SELECT count(*) FROM event_log)", database());
    EXPECT_TRUE(r.ok()) << r.error().text;
    return r.ok() ? *r : "";
  }

  // The port of the node that serves as the primary within `ms` (either node), or 0.
  uint16_t serving_port(int64_t ms) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (std::chrono::steady_clock::now() < until) {
      for (uint16_t port : {primary_port_, backup_port_}) {
        auto c = std::make_unique<ProtocolClient>(loop_, port);
        if (c->closed()) continue;
        EnvelopePtr reply = c->register_as(ClientType::MediaServer);
        if (reply && reply->body.AsEventClientRegistered() && reply->body.AsEventClientRegistered()->role == proto::ServerRole::Primary) {
          return port;
        }
      }
      loop_.run_for(50);
    }
    return 0;
  }

  PostgresServer* pg_ = nullptr;  // the server holding the pair's database
  std::string conninfo_;
};

TEST_F(PostgresPairTest, KillNineUnderSubmitsEveryAcknowledgedSubmitIsServedByTheBackup) {
  primary_ = start_node("primary");
  ASSERT_NE(primary_client(), nullptr);
  backup_ = start_node("backup");
  ASSERT_NE(client(backup_port_, ClientType::MediaServer, proto::ServerRole::Backup), nullptr);
  SubmitStream stream(loop_, primary_port_);
  stream.send_batch(2000);
  ASSERT_TRUE(loop_.run_until([&] { return stream.acknowledged().size() >= 200; }, 30'000));
  stream.send_batch(2000);  // still being committed when the primary dies
  loop_.run_for(1);
  const auto killed = std::chrono::steady_clock::now();
  primary_->kill(SIGKILL);
  loop_.run_until([&] { return stream.client.closed; });
  const std::vector<std::string> acknowledged = stream.acknowledged();
  ASSERT_GT(acknowledged.size(), 0u);

  auto promoted = client(backup_port_, ClientType::MediaServer, proto::ServerRole::Primary);
  ASSERT_NE(promoted, nullptr);
  const double takeover = std::chrono::duration<double>(std::chrono::steady_clock::now() - killed).count();
  std::cout << acknowledged.size() << " of 4000 submits acknowledged before kill -9; the backup served after " << takeover
            << " s\n";
  EXPECT_LT(takeover, 2.0 + 3.0) << "lease-timeout (2 s) plus a loaded machine's margin";
  expect_everything_acknowledged_is_served(backup_port_, acknowledged);
}

// The database ends every session of the pair (a PostgreSQL failover or restart looks like this
// to the nodes): the primary's work in flight fails and it stops serving (fail-stop, or it loses
// the lease), a node serves again on new sessions, and every acknowledged submit is there.
TEST_F(PostgresPairTest, SessionsTheDatabaseEndsLoseNothingAcknowledged) {
  primary_ = start_node("primary");
  ASSERT_NE(primary_client(), nullptr);
  backup_ = start_node("backup");
  ASSERT_NE(client(backup_port_, ClientType::MediaServer, proto::ServerRole::Backup), nullptr);
  SubmitStream stream(loop_, primary_port_);
  stream.send_batch(1000);
  ASSERT_TRUE(loop_.run_until([&] { return stream.acknowledged().size() >= 100; }, 30'000));
  stream.send_batch(1000);
  loop_.run_for(1);
  auto ended = pg_->query_value(
      "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'ixnode pair-1' AND datname = '" +
          database() + "'",
      "postgres");
  ASSERT_TRUE(ended.ok()) << ended.error().text;
  EXPECT_EQ(*ended, "4") << "a writer and a reader session for each node";
  // Whatever the primary answered before, during and after: no more than it committed.
  loop_.run_until([&] { return stream.client.closed || stream.client.received.size() >= 2001; }, 20'000);
  const std::vector<std::string> acknowledged = stream.acknowledged();
  ASSERT_GE(acknowledged.size(), 100u);

  // One of the two nodes serves again, on sessions of its own.
  const uint16_t serving = serving_port(15'000);
  ASSERT_NE(serving, 0) << "no node serves after the database ended the sessions";
  expect_everything_acknowledged_is_served(serving, acknowledged);
}

// SIGSTOP of the primary under a stream of submits (a process stuck on a disk or in a long
// pause): the backup serves within lease-timeout plus one renewal interval; the woken primary
// answers none of the requests it held, commits nothing (the database is as the new primary left
// it), and is a backup. (The same on SQLite: PairFailoverTest in failover_test.cc.)
TEST_F(PostgresPairTest, StalledPrimaryIsReplacedWithinTheLeaseAndCommitsNothingWhenItWakes) {
  constexpr int64_t kLeaseTimeoutMs = 2000, kRenewalMs = kLeaseTimeoutMs / 4;
  primary_ = start_node("primary");
  ASSERT_NE(primary_client(), nullptr);
  backup_ = start_node("backup");
  auto on_backup = client(backup_port_, ClientType::MediaServer, proto::ServerRole::Backup);
  ASSERT_NE(on_backup, nullptr);
  SubmitStream stream(loop_, primary_port_);
  stream.send_batch(1000);
  ASSERT_TRUE(loop_.run_until([&] { return stream.acknowledged().size() >= 100; }, 30'000));
  stream.send_batch(1000);  // being committed when the primary freezes
  loop_.run_for(1);
  const auto stopped = std::chrono::steady_clock::now();
  primary_->signal(SIGSTOP);
  stream.send_batch(100);  // waits in the frozen primary's socket

  ASSERT_TRUE(on_backup->wait_for_events(1, 15'000)) << "the backup announces itself";
  ASSERT_NE(on_backup->events[0]->body.AsEventServerRoleChanged(), nullptr);
  EXPECT_EQ(on_backup->events[0]->body.AsEventServerRoleChanged()->role, proto::ServerRole::Primary);
  EnvelopePtr first = on_backup->call(submit_request());
  const int64_t took =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - stopped).count();
  ASSERT_TRUE(first && first->body.AsEventSubmitted()) << "the backup serves";
  std::cout << "SIGSTOP under submits -> first submit served by the backup: " << took << " ms (lease-timeout "
            << kLeaseTimeoutMs << " ms)\n";
  // lease-timeout + one renewal interval, and a loaded machine's scheduling.
  EXPECT_LT(took, kLeaseTimeoutMs + kRenewalMs + 1500);
  EXPECT_NE(backup_->log().find("takeover=expired"), std::string::npos) << backup_->log();
  // The frozen primary may have stopped with its batch's results unread: its transaction then
  // keeps the lease row locked, and the backup ends that session once the lease ran out.
  if (backup_->log().find("event=lease_holder_session_ended") != std::string::npos) {
    std::cout << "the backup ended the frozen primary's session, which held the lease row\n";
  }
  loop_.run_for(20);
  const size_t answered_before_wake = stream.client.received.size();
  const std::string before_wake = rows();

  primary_->signal(SIGCONT);
  ASSERT_TRUE(loop_.run_until([&] { return stream.client.closed; }, 10'000)) << "the woken primary closes its connections";
  EXPECT_EQ(stream.client.received.size(), answered_before_wake) << "the deposed primary answered after waking";
  ASSERT_NE(client(primary_port_, ClientType::MediaServer, proto::ServerRole::Backup), nullptr)
      << "the old primary serves as a backup";
  EXPECT_EQ(rows(), before_wake) << "the deposed primary committed after waking";
  std::vector<std::string> acknowledged = stream.acknowledged();
  acknowledged.push_back(first->body.AsEventSubmitted()->interaction_id);
  expect_everything_acknowledged_is_served(backup_port_, acknowledged);
}

// PostgreSQL restarted under a stream of submits (a fast shutdown ends every session, and the
// database is down for the restart's moment), on a server of this test's own: what the primary
// had in flight fails — answered as a storage failure, never acknowledged — and it stops
// (fail-stop); a node takes the lease on new sessions once the database is back, and serves every
// acknowledged submit.
TEST_F(PostgresPairTest, PostgresqlRestartedUnderSubmitsLosesNothingAcknowledged) {
  auto own = PostgresServer::start();
  ASSERT_TRUE(own.ok()) << own.error().text;
  pg_ = own->get();
  auto database = pg_->create_database();
  ASSERT_TRUE(database.ok()) << database.error().text;
  conninfo_ = *database;
  std::ofstream(dir_ / "cluster.toml") << config_text();

  primary_ = start_node("primary");
  ASSERT_NE(primary_client(), nullptr);
  backup_ = start_node("backup");
  ASSERT_NE(client(backup_port_, ClientType::MediaServer, proto::ServerRole::Backup), nullptr);
  SubmitStream stream(loop_, primary_port_);
  stream.send_batch(1000);
  ASSERT_TRUE(loop_.run_until([&] { return stream.acknowledged().size() >= 100; }, 30'000));
  stream.send_batch(1000);
  loop_.run_for(1);
  ASSERT_TRUE(pg_->restart().ok());
  const auto back = std::chrono::steady_clock::now();

  loop_.run_until([&] { return stream.client.closed || stream.client.received.size() >= 2001; }, 20'000);
  const std::vector<std::string> acknowledged = stream.acknowledged();
  ASSERT_GE(acknowledged.size(), 100u);
  size_t refused = 0;
  for (const auto& e : stream.client.received) {
    if (!e || !e->body.AsEventError()) continue;
    ++refused;
    EXPECT_EQ(e->body.AsEventError()->code, static_cast<int>(proto::ErrorCode::Internal)) << e->body.AsEventError()->text;
  }
  std::cout << acknowledged.size() << " of 2000 submits acknowledged, " << refused
            << " answered with a storage failure, the rest unanswered (the connection closed)\n";

  const uint16_t serving = serving_port(15'000);
  ASSERT_NE(serving, 0) << "no node serves after the database restarted";
  const double after = std::chrono::duration<double>(std::chrono::steady_clock::now() - back).count();
  std::cout << "a node serves " << after << " s after the database is back\n";
  EXPECT_LT(after, 2.0 + 5.0) << "lease-timeout (2 s) plus a loaded machine's margin";
  expect_everything_acknowledged_is_served(serving, acknowledged);
  primary_.reset();
  backup_.reset();
}


// TLS to PostgreSQL with the server's certificate checked (sslmode=verify-full against the test
// CA), from ixnode itself — a process that links BoringSSL and replaces malloc with mimalloc, so
// libpq runs in its isolated scope (node/store/libpq_api.h); loaded plainly, the first handshake
// crashes. Both of the node's sessions are encrypted, and it serves. A sanitizer build cannot
// isolate libpq: there the pair is refused at start-up with the reason, instead of crashing.
TEST_F(PostgresPairTest, TlsToPostgresqlWithVerifyFull) {
  conninfo_.replace(conninfo_.find("sslmode=disable"), 15,
                    "sslmode=verify-full sslrootcert=" + pg_->ca_file());
  std::ofstream(dir_ / "cluster.toml") << config_text();
  primary_ = start_node("primary");
#if defined(__SANITIZE_ADDRESS__)
  EXPECT_NE(primary_->wait_for_exit(std::chrono::seconds(20)), 0);
  EXPECT_NE(primary_->log().find("asks for sslmode=verify-full, but TLS to PostgreSQL is not available"), std::string::npos)
      << primary_->log();
#else
  auto media = primary_client();
  ASSERT_NE(media, nullptr) << primary_->log();
  EnvelopePtr reply = media->call(submit_request());
  ASSERT_NE(reply, nullptr);
  EXPECT_NE(reply->body.AsEventSubmitted(), nullptr) << "a submit commits over TLS";
  auto encrypted = pg_->query_value(
      "SELECT count(*) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) WHERE application_name = 'ixnode pair-1' AND datname = '" +
          database() + "' AND ssl",
      "postgres");
  ASSERT_TRUE(encrypted.ok()) << encrypted.error().text;
  EXPECT_EQ(*encrypted, "2") << "the node's writer and reader sessions are encrypted";
#endif
}

}  // namespace
}  // namespace ix::test
