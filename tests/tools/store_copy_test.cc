// `ixctl store copy`: a stopped pair's SQLite database moves to an empty PostgreSQL database with
// every row (the event log's seqs, counters, submit keys and lease fencing numbers included), and what would
// lose or mix data is refused: a running pair, a target that already holds rows, a password in
// the connection string.
#include <gtest/gtest.h>

#include <filesystem>

#include "node/store/postgres_store.h"
#include "node/store/sqlite_store.h"
#include "tests/support/command.h"
#include "tests/support/postgres_server.h"
#include "tests/support/test_loop.h"

namespace ix::node {
namespace {

class StoreCopyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("ix-store-copy-" + std::to_string(::getpid()) + "-" +
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    sqlite_path_ = (dir_ / "pair.db").string();
    conninfo_ = test::PostgresEnvironment::get().fresh_database();
    ASSERT_FALSE(conninfo_.empty());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // A pair's SQLite database as a node leaves it: interactions, a trimmed event log, the
  // counter, a client lease and the pair's own lease (released, or held until `pair_expiry`).
  void fill_sqlite(int64_t pair_expiry_ms) {
    auto store = SqliteStore::open(loop_.get(), {sqlite_path_, true, true, 10'000});
    ASSERT_TRUE(store.ok()) << store.error().text;
    int done = 0;
    for (int i = 1; i <= 5000; ++i) {
      Transaction t;
      t.mutations.push_back(PutInteraction{{"p1." + std::to_string(i), "101", i % 3, {1, static_cast<uint8_t>(i)}}});
      t.mutations.push_back(AppendEvent{{static_cast<uint64_t>(i), 1000 + i, "101", {9, static_cast<uint8_t>(i)}}});
      t.mutations.push_back(SetCounter{"interaction", static_cast<uint64_t>(i)});
      if (i % 10 == 0) t.mutations.push_back(DeleteInteraction{"p1." + std::to_string(i - 1)});
      if (i % 100 == 0) t.mutations.push_back(PutSubmitKey{"proxy-1/r" + std::to_string(i), "p1." + std::to_string(i), 1000 + i});
      (*store)->commit(std::move(t), [&](const Status& s) { done += s.ok() ? 1 : 1000'000; });
    }
    Transaction trim;
    trim.mutations.push_back(TrimEvents{1101});      // events 1..100 go
    trim.mutations.push_back(TrimSubmitKeys{1201});  // the submit keys of 100 and 200 go
    (*store)->commit(std::move(trim), [&](const Status& s) { done += s.ok() ? 1 : 1000'000; });
    int leases = 0;
    (*store)->lease({LeaseOp::kAcquire, "pacing-master", "proxy-a", 10'000, 1'000}, [&](Result<LeaseOutcome>) { ++leases; });
    (*store)->lease({LeaseOp::kAcquire, "pacing-master", "proxy-b", 10'000, 20'000}, [&](Result<LeaseOutcome>) { ++leases; });
    (*store)->lease({LeaseOp::kAcquire, kPairLeaseName, "node-a", static_cast<uint64_t>(pair_expiry_ms - 1), 1},
                    [&](Result<LeaseOutcome>) { ++leases; });
    ASSERT_TRUE(loop_.run_until([&] { return done >= 5001 && leases == 3; }, 30'000));
    ASSERT_EQ(done, 5001);
    (*store)->close();
  }

  test::CommandResult copy(const std::string& to) {
    return test::run_command({IX_IXCTL, "store", "copy", "--from", "sqlite:" + sqlite_path_, "--to", "postgresql:" + to});
  }

  test::TestLoop loop_;
  std::filesystem::path dir_;
  std::string sqlite_path_;
  std::string conninfo_;
};

TEST_F(StoreCopyTest, ACopiedPairLoadsTheSameStateFromPostgresql) {
  fill_sqlite(2);  // the pair lease ran out long ago: the pair is stopped
  auto result = copy(conninfo_);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("copied and verified: 4500 interactions, 4900 events (seq 101..5000), 1 counters, 2 leases, 48 submit keys"),
            std::string::npos)
      << result.out;

  auto sqlite = SqliteStore::open(loop_.get(), {sqlite_path_, true, true, 10'000});
  PostgresOptions options;
  options.conninfo = conninfo_;
  auto postgres = PostgresStore::open(loop_.get(), options);
  ASSERT_TRUE(sqlite.ok() && postgres.ok());
  auto from = (*sqlite)->load();
  auto to = (*postgres)->load();
  ASSERT_TRUE(from.ok() && to.ok());
  ASSERT_EQ(to->interactions.size(), from->interactions.size());
  for (size_t i = 0; i < from->interactions.size(); ++i) {
    EXPECT_EQ(to->interactions[i].id, from->interactions[i].id);
    EXPECT_EQ(to->interactions[i].state, from->interactions[i].state);
    EXPECT_EQ(to->interactions[i].data, from->interactions[i].data);
  }
  EXPECT_EQ(to->last_seq, 5000u);
  EXPECT_EQ(to->counters, from->counters);
  ASSERT_EQ(to->submit_keys.size(), 48u);
  ASSERT_EQ(from->submit_keys.size(), 48u);
  for (size_t i = 0; i < from->submit_keys.size(); ++i) {
    EXPECT_EQ(to->submit_keys[i].key, from->submit_keys[i].key);
    EXPECT_EQ(to->submit_keys[i].interaction_id, from->submit_keys[i].interaction_id);
    EXPECT_EQ(to->submit_keys[i].recorded_us, from->submit_keys[i].recorded_us);
  }
  EXPECT_EQ((*postgres)->first_seq(), 101u) << "the trimmed log starts where it did";

  // The leases' terms continue: the next holder of each gets the next fencing number.
  std::optional<LeaseOutcome> pacing, pair;
  (*postgres)->lease({LeaseOp::kAcquire, "pacing-master", "proxy-c", 10'000, 100'000}, [&](Result<LeaseOutcome> r) { pacing = r.value(); });
  (*postgres)->lease({LeaseOp::kAcquire, kPairLeaseName, "node-b", 3'000, 100'000}, [&](Result<LeaseOutcome> r) { pair = r.value(); });
  ASSERT_TRUE(loop_.run_until([&] { return pacing && pair; }));
  EXPECT_EQ(pacing->record.fencing, 3u);
  EXPECT_EQ(pair->record.fencing, 2u);
  (*sqlite)->close();
  (*postgres)->close();

  auto again = copy(conninfo_);
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("the target database already holds 4500 interactions"), std::string::npos) << again.err;
}

TEST_F(StoreCopyTest, ARunningPairOrAPasswordIsRefused) {
  const int64_t far_future =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count() + 3'600'000;
  fill_sqlite(far_future);
  auto running = copy(conninfo_);
  EXPECT_EQ(running.exit_code, 1);
  EXPECT_NE(running.err.find("the pair is running (node-a holds its lease); stop both nodes first"), std::string::npos)
      << running.err;

  auto password = copy(conninfo_ + " password=hunter2");
  EXPECT_EQ(password.exit_code, 3);
  EXPECT_NE(password.err.find("must not contain a password"), std::string::npos) << password.err;
  auto wrong_scheme = test::run_command({IX_IXCTL, "store", "copy", "--from", sqlite_path_, "--to", "postgresql:" + conninfo_});
  EXPECT_EQ(wrong_scheme.exit_code, 3);
  EXPECT_NE(wrong_scheme.err.find("--from must be sqlite:PATH"), std::string::npos) << wrong_scheme.err;
}

}  // namespace
}  // namespace ix::node
