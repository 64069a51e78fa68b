// PairLease in process, on real stores and a real loop with short timings: a term is granted
// with a new epoch and sets the store's fence; a second holder waits until the row expires or is
// released; a holder whose renewals fail loses the term once its serving window closes (before
// the row expires); and a deposed holder's commit is refused by the fence inside the database
// transaction, on SQLite across two connections as two processes would hold them.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <optional>

#include "node/store/lease.h"
#include "node/store/memory_store.h"
#include "node/store/sqlite_store.h"
#include "tests/support/test_loop.h"

namespace ix::node {
namespace {

using test::TestLoop;

constexpr LeaseTiming kTiming = LeaseTiming::from_timeout(200);  // renew 50 ms, serve 160 ms, try 40 ms

Transaction put(const std::string& id) {
  Transaction t;
  t.mutations.push_back(PutInteraction{{id, "101", 1, {1, 2, 3}}});
  return t;
}

class PairLeaseTest : public ::testing::Test {
 protected:
  // Runs the loop until the lease's acquire answers; the outcome, or nullopt on a store error.
  std::optional<LeaseOutcome> acquire(Lease& lease) {
    std::optional<Result<LeaseOutcome>> got;
    lease.try_acquire([&](Result<LeaseOutcome> r) { got = std::move(r); });
    EXPECT_TRUE(loop_.run_until([&] { return got.has_value(); }, 5000));
    if (!got || !got->ok()) return std::nullopt;
    return got->value();
  }
  Status commit(Store& store, Transaction t) {
    std::optional<Status> got;
    store.commit(std::move(t), [&](const Status& s) { got = s; });
    EXPECT_TRUE(loop_.run_until([&] { return got.has_value(); }, 5000));
    return got.value_or(Error{0, "no completion"});
  }

  TestLoop loop_;
};

TEST_F(PairLeaseTest, TermsHaveNewEpochsAndTheOtherHolderWaitsForExpiryOrRelease) {
  MemoryStore store(loop_.get());
  PairLease a(loop_.get(), store, "a", kTiming), b(loop_.get(), store, "b", kTiming);
  auto won = acquire(a);
  ASSERT_TRUE(won && won->granted);
  EXPECT_EQ(a.epoch(), 1u);
  EXPECT_TRUE(a.valid());
  EXPECT_TRUE(commit(store, put("one"))) << "the holder commits under its fence";

  auto lost = acquire(b);
  ASSERT_TRUE(lost);
  EXPECT_FALSE(lost->granted);
  EXPECT_EQ(lost->record.holder, "a");
  // a renews: b still cannot take it after more than one lease-timeout.
  loop_.run_for(3 * kTiming.ttl_ms / 2);
  EXPECT_TRUE(a.valid());
  EXPECT_GT(a.renewals(), 2u);
  EXPECT_FALSE(acquire(b)->granted);

  std::optional<Status> released;
  a.release([&](const Status& s) { released = s; });
  EXPECT_FALSE(a.valid()) << "invalid from the call on";
  ASSERT_TRUE(loop_.run_until([&] { return released.has_value(); }));
  EXPECT_TRUE(*released);
  auto taken = acquire(b);
  ASSERT_TRUE(taken && taken->granted) << "a released lease is taken at once";
  EXPECT_EQ(b.epoch(), 2u);
  EXPECT_TRUE(taken->previous.holder.empty()) << "the takeover sees a released row";
  Status fenced = commit(store, put("two"));
  EXPECT_TRUE(fenced) << "b's fence is set: " << (fenced ? "" : fenced.error().text);
  EXPECT_EQ(a.losses(), 0u) << "a release is not a loss";
}

TEST_F(PairLeaseTest, AHolderWhoseRenewalsFailStopsServingBeforeTheRowExpires) {
  MemoryStore store(loop_.get());
  PairLease a(loop_.get(), store, "a", kTiming);
  std::optional<std::string> lost;
  a.set_on_lost([&](const std::string& why) { lost = why; });
  ASSERT_TRUE(acquire(a)->granted);
  const auto confirmed = std::chrono::steady_clock::now();
  store.fail_commits(Error{0, "disk gone"});  // lease commands fail too
  ASSERT_TRUE(loop_.run_until([&] { return lost.has_value(); }, 5000));
  const auto after = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - confirmed).count();
  EXPECT_FALSE(a.valid());
  EXPECT_FALSE(a.held());
  EXPECT_EQ(a.losses(), 1u);
  EXPECT_NE(lost->find("no renewal confirmed within 160 ms"), std::string::npos) << *lost;
  EXPECT_GE(after, 150) << "not before the serving window closes";
  EXPECT_LT(static_cast<uint64_t>(after), kTiming.ttl_ms + 500) << "well before anyone else could hold it, give or take a loaded machine";
}

TEST_F(PairLeaseTest, ADeposedHolderCannotCommitOnSqlite) {
  const std::filesystem::path path = std::filesystem::temp_directory_path() / ("ix-pair-lease-" + std::to_string(::getpid()) + ".db");
  std::filesystem::remove(path);
  auto first = SqliteStore::open(loop_.get(), {path.string()});
  auto second = SqliteStore::open(loop_.get(), {path.string()});
  ASSERT_TRUE(first.ok() && second.ok());
  Store& old_store = **first;
  Store& new_store = **second;
  std::optional<std::string> lost;
  {
    auto old_lease = std::make_unique<PairLease>(loop_.get(), old_store, "old", kTiming);
    ASSERT_TRUE(acquire(*old_lease)->granted);
    ASSERT_TRUE(commit(old_store, put("before")));
    // The holder freezes: no renewal ever again (its Lease is gone, its store and fence stay).
  }
  PairLease new_lease(loop_.get(), new_store, "new", kTiming);
  std::optional<LeaseOutcome> won;
  ASSERT_TRUE(loop_.run_until([&] {
    won = acquire(new_lease);
    return won && won->granted;
  }, 5000)) << "the row expires and the other holder takes it";
  EXPECT_EQ(new_lease.epoch(), 2u);
  EXPECT_EQ(won->previous.holder, "old");

  Status refused = commit(old_store, put("after"));
  ASSERT_FALSE(refused) << "the deposed holder committed";
  EXPECT_EQ(refused.error().code, kFencedErrorCode);
  EXPECT_NE(refused.error().text.find("epoch 2 held by new, this node's epoch was 1"), std::string::npos) << refused.error().text;
  auto state = new_store.load();
  ASSERT_TRUE(state.ok());
  ASSERT_EQ(state->interactions.size(), 1u) << "nothing of the refused batch reached the database";
  EXPECT_EQ(state->interactions[0].id, "before");
  EXPECT_TRUE(commit(new_store, put("new-term")));
  old_store.close();
  new_store.close();
  loop_.run_for(10);
  first->reset();
  second->reset();
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path.string() + suffix);
}

}  // namespace
}  // namespace ix::node
