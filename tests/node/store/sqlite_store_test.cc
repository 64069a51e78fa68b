#include "node/store/sqlite_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <filesystem>

#include "node/store/store_factory.h"
#include "tests/support/test_loop.h"

namespace ix::node {
namespace {

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("ix-store-" + std::to_string(::getpid()) + "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "pair.db").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<SqliteStore> open(bool group_commit = true) {
    auto store = SqliteStore::open(loop_.get(), {path_, true, group_commit, 10'000});
    EXPECT_TRUE(store.ok()) << (store.ok() ? "" : store.error().text);
    return store.ok() ? std::move(store.value()) : nullptr;
  }

  static Transaction submit(int n) {
    Transaction t;
    std::string id = "p1." + std::to_string(n);
    t.mutations.push_back(PutInteraction{{id, "101", 1, std::vector<uint8_t>{1, 2, static_cast<uint8_t>(n)}}});
    t.mutations.push_back(AppendEvent{{static_cast<uint64_t>(n), 1000 + n, "101", std::vector<uint8_t>{9, static_cast<uint8_t>(n)}}});
    t.mutations.push_back(SetCounter{"interaction", static_cast<uint64_t>(n)});
    return t;
  }

  test::TestLoop loop_;
  std::filesystem::path dir_;
  std::string path_;
};

TEST_F(SqliteStoreTest, GroupCommitAcknowledgesEveryTransactionInFewerBatches) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  int acknowledged = 0, failed = 0;
  for (int i = 1; i <= 2000; ++i) {
    store->commit(submit(i), [&](const Status& s) { s.ok() ? ++acknowledged : ++failed; });
  }
  ASSERT_TRUE(loop_.run_until([&] { return acknowledged + failed == 2000; }));
  EXPECT_EQ(failed, 0);
  EXPECT_EQ(store->stats().transactions, 2000u);
  EXPECT_LT(store->stats().batches, 2000u) << "transactions queued together commit together";

  auto state = store->load();
  ASSERT_TRUE(state.ok()) << state.error().text;
  EXPECT_EQ(state->interactions.size(), 2000u);
  EXPECT_EQ(state->last_seq, 2000u);
  ASSERT_EQ(state->counters.size(), 1u);
  EXPECT_EQ(state->counters[0].second, 2000u);
  store->close();
}

TEST_F(SqliteStoreTest, WithoutGroupCommitEveryTransactionIsItsOwnBatch) {
  auto store = open(false);
  ASSERT_NE(store, nullptr);
  int acknowledged = 0;
  for (int i = 1; i <= 50; ++i) store->commit(submit(i), [&](const Status&) { ++acknowledged; });
  ASSERT_TRUE(loop_.run_until([&] { return acknowledged == 50; }));
  EXPECT_EQ(store->stats().batches, 50u);
  store->close();
}

TEST_F(SqliteStoreTest, CommittedDataSurvivesReopenAndDeletesAreKept) {
  {
    auto store = open();
    int done = 0;
    for (int i = 1; i <= 10; ++i) store->commit(submit(i), [&](const Status&) { ++done; });
    Transaction stop;
    stop.mutations.push_back(DeleteInteraction{"p1.3"});
    store->commit(std::move(stop), [&](const Status&) { ++done; });
    ASSERT_TRUE(loop_.run_until([&] { return done == 11; }));
    store->close();
  }
  auto store = open();
  auto state = store->load();
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->interactions.size(), 9u);
  for (const auto& i : state->interactions) EXPECT_NE(i.id, "p1.3");
  EXPECT_EQ(state->last_seq, 10u);
  EXPECT_EQ(store->first_seq(), 1u) << "the first seq is read back on open";
  store->close();
}

TEST_F(SqliteStoreTest, FailedBatchReportsTheErrorToEveryTransaction) {
  auto store = open();
  std::vector<std::string> errors;
  store->commit(submit(1), [&](const Status& s) { errors.push_back(s.ok() ? "" : s.error().text); });
  store->commit(submit(1), [&](const Status& s) { errors.push_back(s.ok() ? "" : s.error().text); });  // same seq
  ASSERT_TRUE(loop_.run_until([&] { return errors.size() == 2; }));
  EXPECT_NE(errors[1].find("UNIQUE"), std::string::npos) << "a duplicate event seq cannot commit: " << errors[1];
  // Atomic: whatever was acknowledged is there, whatever failed left nothing behind.
  auto state = store->load();
  EXPECT_EQ(state->interactions.size(), errors[0].empty() ? 1u : 0u);
  EXPECT_EQ(state->last_seq, errors[0].empty() ? 1u : 0u);
  store->close();
}

// The pair's two nodes open the same database: a lease decided through one is what the other
// reads (so it survives a failover), and acquirers racing through both never both win.
TEST_F(SqliteStoreTest, LeasesAreSharedByTheTwoNodesOfThePair) {
  auto primary = open();
  auto backup = open();
  ASSERT_TRUE(primary && backup);
  std::vector<LeaseOutcome> outcomes;
  for (int i = 0; i < 20; ++i) {
    SqliteStore& via = i % 2 == 0 ? *primary : *backup;
    via.lease({LeaseOp::kAcquire, "pacing-master", "proxy-" + std::to_string(i), 5'000, 2'000'000},
              [&](Result<LeaseOutcome> r) {
                ASSERT_TRUE(r.ok()) << r.error().text;
                outcomes.push_back(std::move(r.value()));
              });
  }
  ASSERT_TRUE(loop_.run_until([&] { return outcomes.size() == 20; }));
  int granted = 0;
  for (const LeaseOutcome& o : outcomes) granted += o.granted ? 1 : 0;
  EXPECT_EQ(granted, 1);
  const std::string holder = std::find_if(outcomes.begin(), outcomes.end(), [](auto& o) { return o.granted; })->record.holder;
  primary->close();
  primary.reset();  // the primary dies; the backup's view of the lease is the database's

  std::optional<LeaseOutcome> seen;
  backup->lease({LeaseOp::kRenew, "pacing-master", holder, 5'000, 2'001'000}, [&](Result<LeaseOutcome> r) {
    ASSERT_TRUE(r.ok());
    seen = r.value();
  });
  ASSERT_TRUE(loop_.run_until([&] { return seen.has_value(); }));
  EXPECT_TRUE(seen->granted);
  EXPECT_EQ(seen->record.holder, holder);
  EXPECT_EQ(seen->record.fencing, 1u);
  backup->close();
}

TEST_F(SqliteStoreTest, NewerSchemaIsRefused) {
  { auto store = open(); store->close(); }
  sqlite3* db = nullptr;
  sqlite3_open(path_.c_str(), &db);
  sqlite3_exec(db, "UPDATE schema_version SET version = 99", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  auto store = SqliteStore::open(loop_.get(), {path_, true, true, 100});
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.error().text.find("schema version 99, newer than this ixnode's 3"), std::string::npos) << store.error().text;
}

TEST_F(SqliteStoreTest, UnopenableDatabaseSaysWhere) {
  auto store = SqliteStore::open(loop_.get(), {"/nonexistent/dir/pair.db", true, true, 100});
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.error().text.find("/nonexistent/dir/pair.db"), std::string::npos);
}

TEST_F(SqliteStoreTest, FactoryOpensThePairsSqliteDatabase) {
  config::NodePair pair;
  pair.id = "p1";
  pair.storage.sqlite_path = path_;
  auto store = make_store(loop_.get(), pair, {});
  ASSERT_TRUE(store.ok()) << store.error().text;
  EXPECT_NE(dynamic_cast<SqliteStore*>(store->get()), nullptr);
  (*store)->close();
  EXPECT_TRUE(std::filesystem::exists(path_));

  pair.storage.sqlite_path.clear();
  auto refused = make_store(loop_.get(), pair, {});
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().text.find("node pair p1 has neither sqlite-path nor postgresql"), std::string::npos) << refused.error().text;
}

}  // namespace
}  // namespace ix::node
