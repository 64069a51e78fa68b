// The pair's lease as real ixnode processes see it (SQLite, lease-timeout 1 s): a stalled
// (SIGSTOPped) primary is replaced within the lease and, once it wakes, answers and commits
// nothing; a planned switchover hands the lease over at once; the pair's lease name is not for
// clients. (kill -9 under a stream of submits: IxnodeTest.FailoverUnderLoadLosesNothing... in
// node_process_test.cc.)
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <nlohmann/json.hpp>

#include <array>
#include <chrono>
#include <iostream>

#include "node/store/store.h"
#include "tests/node/node_fixture.h"
#include "tests/support/http_exchange.h"

namespace ix::test {
namespace {

using proto::ClientType;
using proto::ErrorCode;
using proto::Message;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr int64_t kLeaseTimeoutMs = 1000;  // the fixture's lease-timeout
constexpr int64_t kRenewalMs = kLeaseTimeoutMs / 4;

class PairFailoverTest : public NodePairFixture {
 protected:
  std::string submitted(const EnvelopePtr& reply) {
    return reply && reply->body.AsEventSubmitted() ? reply->body.AsEventSubmitted()->interaction_id : "";
  }

  nlohmann::json status(uint16_t admin) {
    return nlohmann::json::parse(http_get(loop_, admin, "/status").body(), nullptr, false);
  }

  HttpExchange post(uint16_t admin, const std::string& path) {
    return http_exchange(loop_, admin, "POST " + path + " HTTP/1.1\r\nHost: test\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  }

  // A value of the node's /metrics, by the exact series text ("ix_node_primary").
  double metric(uint16_t admin, const std::string& series) {
    const std::string text = http_get(loop_, admin, "/metrics").body();
    // Node series carry constant labels (pair, node): `name{...} value`.
    size_t at = text.find("\n" + series + "{");
    if (at == std::string::npos) return -1;
    at = text.find("} ", at);
    return at == std::string::npos ? -1 : std::stod(text.substr(at + 2));
  }

  // What the pair's database holds, read straight from the file: {interactions, events, last seq}.
  std::array<int64_t, 3> database() {
    sqlite3* db = nullptr;
    std::array<int64_t, 3> out{-1, -1, -1};
    if (sqlite3_open_v2((dir_ / "data" / "pair-1.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
      sqlite3_busy_timeout(db, 5000);
      const char* sql = "SELECT (SELECT COUNT(*) FROM interactions), (SELECT COUNT(*) FROM event_log), "
                        "(SELECT COALESCE(MAX(seq), 0) FROM event_log)";
      sqlite3_stmt* stmt = nullptr;
      if (sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr) == SQLITE_OK && sqlite3_step(stmt) == SQLITE_ROW) {
        for (int i = 0; i < 3; ++i) out[i] = sqlite3_column_int64(stmt, i);
      }
      sqlite3_finalize(stmt);
    }
    sqlite3_close(db);
    return out;
  }

  void expect_present(ProtocolClient& on, const std::vector<std::string>& ids) {
    for (const std::string& id : ids) {
      proto::RequestGetPropertiesT get;
      get.interaction_id = id;
      EnvelopePtr reply = on.call(get);
      ASSERT_NE(reply, nullptr);
      EXPECT_NE(reply->body.AsEventProperties(), nullptr) << "acknowledged " << id << " is missing";
    }
  }
};

TEST_F(PairFailoverTest, StalledPrimaryIsReplacedWithinTheLeaseAndCommitsNothingWhenItWakes) {
  primary_ = start_node("primary");
  auto media = primary_client();
  ASSERT_NE(media, nullptr);
  std::vector<std::string> acknowledged;
  for (int i = 0; i < 10; ++i) acknowledged.push_back(submitted(media->call(submit_request())));
  ASSERT_EQ(std::count(acknowledged.begin(), acknowledged.end(), ""), 0);
  backup_ = start_node("backup");
  auto on_backup = client(backup_port_, ClientType::MediaServer, proto::ServerRole::Backup);
  ASSERT_NE(on_backup, nullptr);
  EXPECT_EQ(status(primary_admin_)["lease"]["epoch"], 1);

  const auto stopped = steady_clock::now();
  primary_->signal(SIGSTOP);
  // Requests sent to the frozen primary wait in its socket until it wakes.
  std::vector<uint64_t> waiting;
  for (int i = 0; i < 5; ++i) waiting.push_back(media->send(submit_request()));

  ASSERT_TRUE(on_backup->wait_for_events(1, 10'000)) << "the backup announces itself";
  ASSERT_NE(on_backup->events[0]->body.AsEventServerRoleChanged(), nullptr);
  EXPECT_EQ(on_backup->events[0]->body.AsEventServerRoleChanged()->role, proto::ServerRole::Primary);
  const std::string first = submitted(on_backup->call(submit_request()));
  const int64_t took = std::chrono::duration_cast<milliseconds>(steady_clock::now() - stopped).count();
  ASSERT_FALSE(first.empty()) << "the backup serves";
  std::cout << "SIGSTOP -> first submit served by the backup: " << took << " ms (lease-timeout " << kLeaseTimeoutMs
            << " ms, renewal interval " << kRenewalMs << " ms)\n";
  // lease-timeout + one renewal interval, and 500 ms for a loaded machine's scheduling.
  EXPECT_LT(took, kLeaseTimeoutMs + kRenewalMs + 500);
  EXPECT_EQ(status(backup_admin_)["lease"]["epoch"], 2) << "the takeover is a new epoch";
  EXPECT_NE(backup_->log().find("pair=pair-1 node=backup role=primary event=primary epoch=2 takeover=expired"), std::string::npos) << backup_->log();
  EXPECT_NE(backup_->log().find("no_primary_ms="), std::string::npos);
  acknowledged.push_back(first);
  const auto before_wake = database();

  primary_->signal(SIGCONT);
  // The woken primary answers none of the waiting requests: it drops them and closes the
  // connection (a proxy would fail them with 2002 at once).
  ASSERT_TRUE(loop_.run_until([&] { return media->closed(); }, 10'000)) << "the old primary closes its client connections";
  for (uint64_t ref : waiting) EXPECT_EQ(media->wait_reply(ref, 1), nullptr) << "the deposed primary answered request " << ref;
  // It is a backup now: registration says so and work is refused.
  auto again = client(primary_port_, ClientType::MediaServer, proto::ServerRole::Backup);
  ASSERT_NE(again, nullptr) << "the old primary serves as a backup";
  EnvelopePtr refused = again->call(submit_request());
  ASSERT_NE(as_error(refused), nullptr);
  EXPECT_EQ(as_error(refused)->code, static_cast<int>(ErrorCode::NotPrimary));
  EXPECT_EQ(metric(primary_admin_, "ix_node_primary"), 0);
  EXPECT_EQ(metric(primary_admin_, "ix_node_lease_losses_total"), 1);
  EXPECT_NE(primary_->log().find("event=lease_lost epoch=1"), std::string::npos) << primary_->log();

  // Nothing reached the database from the old primary; the new one serves every acknowledged
  // interaction and keeps numbering the event log without a gap.
  const auto after_wake = database();
  EXPECT_EQ(after_wake, before_wake) << "the deposed primary committed after waking";
  EXPECT_EQ(after_wake[0], static_cast<int64_t>(acknowledged.size()));
  EXPECT_EQ(after_wake[2], 2 * static_cast<int64_t>(acknowledged.size())) << "two events per submit, no gap";
  expect_present(*on_backup, acknowledged);
  EXPECT_FALSE(submitted(on_backup->call(submit_request())).empty());
}

TEST_F(PairFailoverTest, SwitchoverHandsTheLeaseToTheBackupWithoutWaitingForExpiry) {
  primary_ = start_node("primary");
  auto media = primary_client();
  ASSERT_NE(media, nullptr);
  backup_ = start_node("backup");
  auto on_backup = client(backup_port_, ClientType::MediaServer, proto::ServerRole::Backup);
  ASSERT_NE(on_backup, nullptr);
  std::vector<std::string> acknowledged;
  for (int i = 0; i < 5; ++i) acknowledged.push_back(submitted(media->call(submit_request())));

  // The backup refuses to hand over what it does not hold; the primary refuses to expect it.
  EXPECT_EQ(post(backup_admin_, "/pair/switchover").status(), 409);
  EXPECT_EQ(post(primary_admin_, "/pair/expect-takeover").status(), 409);

  const auto started = steady_clock::now();
  ASSERT_EQ(post(backup_admin_, "/pair/expect-takeover").status(), 202);
  ASSERT_EQ(post(primary_admin_, "/pair/switchover").status(), 202);
  ASSERT_TRUE(on_backup->wait_for_events(1, 5000));
  ASSERT_NE(on_backup->events[0]->body.AsEventServerRoleChanged(), nullptr);
  EXPECT_EQ(on_backup->events[0]->body.AsEventServerRoleChanged()->role, proto::ServerRole::Primary);
  const int64_t took = std::chrono::duration_cast<milliseconds>(steady_clock::now() - started).count();
  std::cout << "switchover -> the backup serves after " << took << " ms (lease-timeout " << kLeaseTimeoutMs << " ms)\n";
  EXPECT_LT(took, kLeaseTimeoutMs / 2) << "the backup did not wait for the lease to expire";

  // The old primary keeps its clients' connections and tells them it is the backup now.
  ASSERT_TRUE(media->wait_for_events(1, 5000));
  ASSERT_NE(media->events[0]->body.AsEventServerRoleChanged(), nullptr);
  EXPECT_EQ(media->events[0]->body.AsEventServerRoleChanged()->role, proto::ServerRole::Backup);
  EnvelopePtr refused = media->call(submit_request());
  ASSERT_NE(as_error(refused), nullptr);
  EXPECT_EQ(as_error(refused)->code, static_cast<int>(ErrorCode::NotPrimary));
  EXPECT_NE(primary_->log().find("event=lease_released epoch=1 reason=switchover"), std::string::npos);
  EXPECT_NE(backup_->log().find("takeover=released"), std::string::npos) << backup_->log();
  EXPECT_EQ(status(backup_admin_)["lease"]["epoch"], 2);
  expect_present(*on_backup, acknowledged);
  EXPECT_FALSE(submitted(on_backup->call(submit_request())).empty());

  // And back again, well before the released node would have competed on its own (1 s).
  ASSERT_EQ(post(primary_admin_, "/pair/expect-takeover").status(), 202);
  ASSERT_EQ(post(backup_admin_, "/pair/switchover").status(), 202);
  ASSERT_TRUE(media->wait_for_events(2, 5000));
  EXPECT_EQ(media->events[1]->body.AsEventServerRoleChanged()->role, proto::ServerRole::Primary);
  EXPECT_EQ(status(primary_admin_)["lease"]["epoch"], 3);
  EXPECT_EQ(metric(primary_admin_, "ix_node_lease_losses_total"), 0) << "a handover is not a loss";
  EXPECT_EQ(metric(primary_admin_, "ix_node_lease_takeovers_total"), 2);
  EXPECT_FALSE(submitted(media->call(submit_request())).empty());
}

TEST_F(PairFailoverTest, ThePairLeaseNameIsNotForClients) {
  primary_ = start_node("primary");
  auto media = primary_client();
  ASSERT_NE(media, nullptr);
  proto::RequestLeaseT lease;
  lease.operation = proto::LeaseOperation::Acquire;
  lease.name = node::kPairLeaseName;
  lease.holder = "intruder";
  lease.ttl_ms = 60'000;
  EnvelopePtr reply = media->call(lease);
  ASSERT_NE(as_error(reply), nullptr);
  EXPECT_EQ(as_error(reply)->code, static_cast<int>(ErrorCode::InvalidAttribute));
  EXPECT_NE(as_error(reply)->text.find("reserved"), std::string::npos);
  EXPECT_TRUE(loop_.run_until([&] { return metric(primary_admin_, "ix_node_lease_renewals_total") > 0; }, 5000))
      << "the primary renews its own lease";
}

}  // namespace
}  // namespace ix::test
