// A real ixnode pair whose store is PostgreSQL (storage.postgresql, a fresh database of the
// suite's server): the pair's durability promises, as on SQLite — kill -9 the primary under a
// stream of submits and every acknowledged submit is served by the backup, with the event log
// numbered without gap or duplicate; the database ends the pair's sessions (pg_terminate_backend,
// what a PostgreSQL failover or restart does) and nothing acknowledged is lost while a node
// serves again.
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
    auto last = PostgresEnvironment::get().server()->query_value("SELECT COALESCE(MAX(seq), 0) FROM event_log", database());
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
  auto ended = PostgresEnvironment::get().server()->query_value(
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
  std::unique_ptr<ProtocolClient> serving;
  for (int attempt = 0; attempt < 300 && !serving; ++attempt) {
    for (uint16_t port : {primary_port_, backup_port_}) {
      auto c = std::make_unique<ProtocolClient>(loop_, port);
      if (c->closed()) continue;
      EnvelopePtr reply = c->register_as(ClientType::MediaServer);
      if (reply && reply->body.AsEventClientRegistered() && reply->body.AsEventClientRegistered()->role == proto::ServerRole::Primary) {
        serving = std::move(c);
        expect_everything_acknowledged_is_served(port, acknowledged);
        break;
      }
    }
    if (!serving) loop_.run_for(50);
  }
  ASSERT_NE(serving, nullptr) << "no node serves after the database ended the sessions";
}

// ixnode replaces malloc (mimalloc), so libpq cannot bring its own OpenSSL into it
// (node/store/libpq_api.h): a pair that asks for TLS to PostgreSQL is refused at start-up with
// the reason, instead of crashing in the first handshake.
TEST_F(PostgresPairTest, TlsToPostgresqlIsRefusedClearlyByIxnode) {
  conninfo_.replace(conninfo_.find("sslmode=disable"), 15, "sslmode=require");
  std::ofstream(dir_ / "cluster.toml") << config_text();
  primary_ = start_node("primary");
  EXPECT_NE(primary_->wait_for_exit(std::chrono::seconds(20)), 0);
  EXPECT_NE(primary_->log().find("asks for sslmode=require, but TLS to PostgreSQL is not available"), std::string::npos)
      << primary_->log();
}

}  // namespace
}  // namespace ix::test
