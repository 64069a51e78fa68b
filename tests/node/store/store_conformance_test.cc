// Store conformance: the contract of node/store/store.h, written once and run against every
// Store (SqliteStore on a temporary database, PostgresStore on a fresh database of the suite's
// PostgreSQL server, MemoryStore). A new backend gets these tests by adding one line to
// StoreTypes.
#include <gtest/gtest.h>

#include <filesystem>

#include "node/store/memory_store.h"
#include "node/store/postgres_store.h"
#include "node/store/sqlite_store.h"
#include "tests/support/postgres_server.h"
#include "tests/support/test_loop.h"

namespace ix::node {
namespace {

struct SqliteBackend {
  static std::unique_ptr<Store> open(uv_loop_t* loop, const std::string& path) {
    auto store = SqliteStore::open(loop, {path, true, true, 10'000});
    EXPECT_TRUE(store.ok()) << (store.ok() ? "" : store.error().text);
    return store.ok() ? std::unique_ptr<Store>(std::move(store.value())) : nullptr;
  }
};

struct PostgresBackend {
  static std::unique_ptr<Store> open(uv_loop_t* loop, const std::string&) {
    const std::string conninfo = test::PostgresEnvironment::get().fresh_database();
    if (conninfo.empty()) return nullptr;
    PostgresOptions options;
    options.conninfo = conninfo;
    auto store = PostgresStore::open(loop, std::move(options));
    EXPECT_TRUE(store.ok()) << (store.ok() ? "" : store.error().text);
    return store.ok() ? std::unique_ptr<Store>(std::move(store.value())) : nullptr;
  }
};

struct MemoryBackend {
  static std::unique_ptr<Store> open(uv_loop_t* loop, const std::string&) { return std::make_unique<MemoryStore>(loop); }
};

template <class Backend>
class StoreConformanceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("ix-conformance-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->test_suite_name() + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    store_ = Backend::open(loop_.get(), (dir_ / "pair.db").string());
    ASSERT_NE(store_, nullptr);
  }
  void TearDown() override {
    if (store_) store_->close();
    store_.reset();
    loop_.close();
    std::filesystem::remove_all(dir_);
  }

  static Transaction submit(int n) {
    Transaction t;
    std::string id = "p1." + std::to_string(n);
    t.mutations.push_back(PutInteraction{{id, "101", 1, std::vector<uint8_t>{1, 2, static_cast<uint8_t>(n)}}});
    t.mutations.push_back(AppendEvent{{static_cast<uint64_t>(n), 1000 + n, "101", std::vector<uint8_t>{9, static_cast<uint8_t>(n)}}});
    t.mutations.push_back(SetCounter{"interaction", static_cast<uint64_t>(n)});
    return t;
  }

  // Commits and waits for the completion; returns its status.
  Status commit_and_wait(Transaction t) {
    std::optional<Status> result;
    store_->commit(std::move(t), [&](const Status& s) { result = s; });
    EXPECT_TRUE(loop_.run_until([&] { return result.has_value(); }));
    return result.value_or(Status{Error{0, "no completion"}});
  }

  std::vector<StoredEvent> read_and_wait(uint64_t after, size_t limit) {
    std::optional<Result<std::vector<StoredEvent>>> result;
    store_->read_events(after, limit, [&](Result<std::vector<StoredEvent>> r) { result = std::move(r); });
    EXPECT_TRUE(loop_.run_until([&] { return result.has_value(); }));
    if (!result || !result->ok()) {
      ADD_FAILURE() << "read_events failed";
      return {};
    }
    return std::move(result->value());
  }

  // Runs one lease command and waits for its outcome.
  LeaseOutcome lease_and_wait(LeaseOp op, const std::string& holder, int64_t now_ms, uint64_t ttl_ms = 10'000,
                              const std::string& name = "pacing-master") {
    std::optional<Result<LeaseOutcome>> result;
    this->store_->lease({op, name, holder, ttl_ms, now_ms}, [&](Result<LeaseOutcome> r) { result = std::move(r); });
    EXPECT_TRUE(loop_.run_until([&] { return result.has_value(); }));
    if (!result || !result->ok()) {
      ADD_FAILURE() << "lease command failed: " << (result ? result->error().text : "no completion");
      return {};
    }
    return std::move(result->value());
  }

  test::TestLoop loop_;
  std::filesystem::path dir_;
  std::unique_ptr<Store> store_;
};

using StoreTypes = ::testing::Types<SqliteBackend, PostgresBackend, MemoryBackend>;
class StoreNames {
 public:
  template <class T>
  static std::string GetName(int) {
    if (std::is_same_v<T, SqliteBackend>) return "Sqlite";
    return std::is_same_v<T, PostgresBackend> ? "Postgres" : "Memory";
  }
};
TYPED_TEST_SUITE(StoreConformanceTest, StoreTypes, StoreNames);

TYPED_TEST(StoreConformanceTest, EveryCommitIsAcknowledgedAndLoaded) {
  int acknowledged = 0, failed = 0;
  size_t observed = 0;
  this->store_->set_batch_observer([&](size_t transactions, double) { observed += transactions; });
  for (int i = 1; i <= 500; ++i) {
    this->store_->commit(this->submit(i), [&](const Status& s) { s.ok() ? ++acknowledged : ++failed; });
  }
  ASSERT_TRUE(this->loop_.run_until([&] { return acknowledged + failed == 500; }));
  EXPECT_EQ(failed, 0);
  EXPECT_EQ(observed, 500u) << "the batch observer sees every transaction";
  auto state = this->store_->load();
  ASSERT_TRUE(state.ok()) << state.error().text;
  EXPECT_EQ(state->interactions.size(), 500u);
  EXPECT_EQ(state->last_seq, 500u);
  ASSERT_EQ(state->counters.size(), 1u);
  EXPECT_EQ(state->counters[0], (std::pair<std::string, uint64_t>{"interaction", 500}));
}

TYPED_TEST(StoreConformanceTest, PutReplacesAndDeleteRemoves) {
  ASSERT_TRUE(this->commit_and_wait(this->submit(1)).ok());
  ASSERT_TRUE(this->commit_and_wait(this->submit(2)).ok());
  Transaction change;
  change.mutations.push_back(PutInteraction{{"p1.1", "101", 3, {7}}});
  change.mutations.push_back(DeleteInteraction{"p1.2"});
  ASSERT_TRUE(this->commit_and_wait(std::move(change)).ok());
  auto state = this->store_->load();
  ASSERT_TRUE(state.ok());
  ASSERT_EQ(state->interactions.size(), 1u);
  EXPECT_EQ(state->interactions[0].id, "p1.1");
  EXPECT_EQ(state->interactions[0].state, 3);
  EXPECT_EQ(state->interactions[0].data, std::vector<uint8_t>{7});
}

// Transactions queued in one loop turn commit together; each key ends as the last of them left
// it, and a trim sees exactly the events appended before it.
TYPED_TEST(StoreConformanceTest, ChangesQueuedTogetherApplyInOrder) {
  std::vector<Transaction> queued;
  auto put = [](const std::string& id, uint8_t v) {
    Transaction t;
    t.mutations.push_back(PutInteraction{{id, "101", v, {v}}});
    return t;
  };
  auto remove = [](const std::string& id) {
    Transaction t;
    t.mutations.push_back(DeleteInteraction{id});
    return t;
  };
  auto event = [](uint64_t seq, int64_t at) {
    Transaction t;
    t.mutations.push_back(AppendEvent{{seq, at, "101", {static_cast<uint8_t>(seq)}}});
    return t;
  };
  auto counter = [](uint64_t v) {
    Transaction t;
    t.mutations.push_back(SetCounter{"interaction", v});
    return t;
  };
  queued.push_back(put("gone", 1));
  queued.push_back(remove("gone"));
  queued.push_back(remove("back"));
  queued.push_back(put("back", 2));
  queued.push_back(put("changed", 3));
  queued.push_back(put("changed", 4));
  queued.push_back(event(1, 100));
  queued.push_back(event(2, 200));
  Transaction trim;
  trim.mutations.push_back(TrimEvents{150});  // drops seq 1 only: seq 3 comes after the trim
  queued.push_back(std::move(trim));
  queued.push_back(event(3, 50));
  queued.push_back(counter(7));
  queued.push_back(counter(9));
  int done = 0, failed = 0;
  for (Transaction& t : queued) this->store_->commit(std::move(t), [&](const Status& s) { s.ok() ? ++done : ++failed; });
  ASSERT_TRUE(this->loop_.run_until([&] { return done + failed == static_cast<int>(queued.size()); }));
  EXPECT_EQ(failed, 0);
  auto state = this->store_->load();
  ASSERT_TRUE(state.ok());
  ASSERT_EQ(state->interactions.size(), 2u);
  EXPECT_EQ(state->interactions[0].id, "back");
  EXPECT_EQ(state->interactions[1].id, "changed");
  EXPECT_EQ(state->interactions[1].state, 4);
  EXPECT_EQ(state->interactions[1].data, std::vector<uint8_t>{4});
  ASSERT_EQ(state->counters.size(), 1u);
  EXPECT_EQ(state->counters[0].second, 9u);
  auto events = this->read_and_wait(0, 10);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].seq, 2u);
  EXPECT_EQ(events[1].seq, 3u) << "an event appended after a trim is not trimmed by it";
  EXPECT_EQ(this->store_->first_seq(), 2u);
}

TYPED_TEST(StoreConformanceTest, ReadEventsReturnsTheRangeInOrderUpToTheLimit) {
  for (int i = 1; i <= 10; ++i) ASSERT_TRUE(this->commit_and_wait(this->submit(i)).ok());
  auto after7 = this->read_and_wait(7, 100);
  ASSERT_EQ(after7.size(), 3u);
  EXPECT_EQ(after7[0].seq, 8u);
  EXPECT_EQ(after7[0].timestamp_us, 1008);
  EXPECT_EQ(after7[0].tenant, "101");
  EXPECT_EQ(after7[0].frame, (std::vector<uint8_t>{9, 8}));
  EXPECT_EQ(after7[2].seq, 10u);
  auto limited = this->read_and_wait(0, 4);
  ASSERT_EQ(limited.size(), 4u);
  EXPECT_EQ(limited[3].seq, 4u);
  EXPECT_TRUE(this->read_and_wait(10, 100).empty());
}

TYPED_TEST(StoreConformanceTest, RetentionTrimsTheOldestEventsButKeepsTheNewest) {
  EXPECT_EQ(this->store_->first_seq(), 0u) << "an empty log";
  for (int i = 1; i <= 10; ++i) ASSERT_TRUE(this->commit_and_wait(this->submit(i)).ok());
  EXPECT_EQ(this->store_->first_seq(), 1u);
  Transaction trim;
  trim.mutations.push_back(TrimEvents{1006});  // event n was written at 1000 + n
  ASSERT_TRUE(this->commit_and_wait(std::move(trim)).ok());
  EXPECT_EQ(this->store_->first_seq(), 6u);
  EXPECT_EQ(this->read_and_wait(0, 100).size(), 5u);

  Transaction everything;
  everything.mutations.push_back(TrimEvents{1'000'000});
  ASSERT_TRUE(this->commit_and_wait(std::move(everything)).ok());
  EXPECT_EQ(this->store_->first_seq(), 10u) << "the newest event stays, so the sequence survives a restart";
  EXPECT_EQ(this->store_->load()->last_seq, 10u);
}

TYPED_TEST(StoreConformanceTest, SubmitKeysAreLoadedOldestFirstReplacedByKeyAndTrimmedByTime) {
  Transaction first = this->submit(1);
  first.mutations.push_back(PutSubmitKey{"101/retry-b", "p1.1", 2000});
  ASSERT_TRUE(this->commit_and_wait(std::move(first)).ok());
  Transaction more;
  more.mutations.push_back(PutSubmitKey{"101/retry-a", "p1.2", 1000});
  more.mutations.push_back(PutSubmitKey{"101/retry-c", "p1.3", 3000});
  more.mutations.push_back(PutSubmitKey{"101/retry-c", "p1.4", 3000});
  ASSERT_TRUE(this->commit_and_wait(std::move(more)).ok());
  auto state = this->store_->load();
  ASSERT_TRUE(state.ok());
  ASSERT_EQ(state->submit_keys.size(), 3u);
  EXPECT_EQ(state->submit_keys[0].key, "101/retry-a");
  EXPECT_EQ(state->submit_keys[1].interaction_id, "p1.1");
  EXPECT_EQ(state->submit_keys[2].interaction_id, "p1.4") << "the same key again replaces the row";
  Transaction trim;
  trim.mutations.push_back(TrimSubmitKeys{2500});
  ASSERT_TRUE(this->commit_and_wait(std::move(trim)).ok());
  state = this->store_->load();
  ASSERT_EQ(state->submit_keys.size(), 1u);
  EXPECT_EQ(state->submit_keys[0].key, "101/retry-c");
}

TYPED_TEST(StoreConformanceTest, AFailedTransactionLeavesNothingBehind) {
  ASSERT_TRUE(this->commit_and_wait(this->submit(1)).ok());
  Transaction duplicate = this->submit(1);  // the same event seq again
  std::get<PutInteraction>(duplicate.mutations[0]).interaction.id = "p1.other";
  Status result = this->commit_and_wait(std::move(duplicate));
  EXPECT_FALSE(result.ok()) << "an event seq already in the log cannot be written again";
  auto state = this->store_->load();
  ASSERT_EQ(state->interactions.size(), 1u);
  EXPECT_EQ(state->interactions[0].id, "p1.1");
  EXPECT_EQ(this->read_and_wait(0, 10).size(), 1u);
}

// Fail-stop: the node numbered its later work after the failed work, so none of it may commit.
TYPED_TEST(StoreConformanceTest, AfterAFailedCommitNothingLaterCommits) {
  ASSERT_TRUE(this->commit_and_wait(this->submit(1)).ok());
  Status failed = this->commit_and_wait(this->submit(1));  // the same event seq again
  ASSERT_FALSE(failed.ok());
  Status later = this->commit_and_wait(this->submit(2));
  ASSERT_FALSE(later.ok()) << "a commit after a failed one went through";
  EXPECT_EQ(later.error().text, "an earlier commit failed, so this store commits nothing more: " + failed.error().text);
  auto state = this->store_->load();
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->interactions.size(), 1u);
  EXPECT_EQ(state->last_seq, 1u);
}

TYPED_TEST(StoreConformanceTest, CallbacksNeverRunInsideTheCallThatQueuedThem) {
  bool committed = false, read = false;
  this->store_->commit(this->submit(1), [&](const Status&) { committed = true; });
  EXPECT_FALSE(committed);
  ASSERT_TRUE(this->loop_.run_until([&] { return committed; }));
  this->store_->read_events(0, 10, [&](Result<std::vector<StoredEvent>>) { read = true; });
  EXPECT_FALSE(read);
  ASSERT_TRUE(this->loop_.run_until([&] { return read; }));
}

TYPED_TEST(StoreConformanceTest, WorkInFlightAtCloseCompletesOnALaterLoopTurn) {
  int committed = 0;
  bool read = false;
  for (int i = 1; i <= 20; ++i) {
    this->store_->commit(this->submit(i), [&](const Status& s) { committed += s.ok() ? 1 : 0; });
  }
  this->store_->read_events(0, 100, [&](Result<std::vector<StoredEvent>>) { read = true; });
  this->store_->close();
  EXPECT_EQ(committed, 0) << "close() runs no callback itself";
  this->store_.reset();  // the store may even be gone before its completions run
  ASSERT_TRUE(this->loop_.run_until([&] { return committed == 20 && read; }));
}

// The pair's fence (store.h, set_fence): commits go through while the lease row still names this
// node and its epoch, and are refused — every transaction of the batch, nothing written — once
// another node took a new epoch or the holder released it.
TYPED_TEST(StoreConformanceTest, CommitsAreFencedByThePairsEpoch) {
  LeaseOutcome a = this->lease_and_wait(LeaseOp::kAcquire, "node-a", 1'000'000, 3'000, kPairLeaseName);
  ASSERT_TRUE(a.granted);
  this->store_->set_fence({kPairLeaseName, "node-a", a.record.fencing});
  ASSERT_TRUE(this->commit_and_wait(this->submit(1)).ok()) << "the holder's commit goes through";

  // node-a freezes; its lease runs out and node-b takes a new epoch.
  LeaseOutcome b = this->lease_and_wait(LeaseOp::kAcquire, "node-b", 1'003'001, 3'000, kPairLeaseName);
  ASSERT_TRUE(b.granted);
  ASSERT_EQ(b.record.fencing, 2u);
  std::vector<Status> results;
  for (int i = 2; i <= 4; ++i) this->store_->commit(this->submit(i), [&](const Status& s) { results.push_back(s); });
  ASSERT_TRUE(this->loop_.run_until([&] { return results.size() == 3; }));
  for (const Status& s : results) {
    ASSERT_FALSE(s.ok()) << "a deposed holder never commits";
    EXPECT_EQ(s.error().code, kFencedErrorCode);
    EXPECT_NE(s.error().text.find("fenced: the pair's lease is at epoch 2 held by node-b, this node's epoch was 1"),
              std::string::npos)
        << s.error().text;
  }
  EXPECT_EQ(this->store_->load()->interactions.size(), 1u) << "a fenced batch leaves nothing behind";

  this->store_->set_fence({kPairLeaseName, "node-b", 2});
  ASSERT_TRUE(this->commit_and_wait(this->submit(5)).ok()) << "the new holder commits";
  this->lease_and_wait(LeaseOp::kRelease, "node-b", 1'004'000, 3'000, kPairLeaseName);
  Status released = this->commit_and_wait(this->submit(6));
  ASSERT_FALSE(released.ok()) << "a released lease fences its old holder at once";
  EXPECT_EQ(released.error().code, kFencedErrorCode);
  this->store_->set_fence({});
  EXPECT_TRUE(this->commit_and_wait(this->submit(7)).ok()) << "epoch 0: no fence (tools and tests)";
}

// Fifty acquirers of one free lease queued in the same loop turn: exactly one wins, with
// fencing 1, and every other one is told who holds it.
TYPED_TEST(StoreConformanceTest, OneOfManyConcurrentAcquirersWinsTheLease) {
  constexpr int kAcquirers = 50;
  std::vector<LeaseOutcome> outcomes;
  for (int i = 0; i < kAcquirers; ++i) {
    this->store_->lease({LeaseOp::kAcquire, "pacing-master", "proxy-" + std::to_string(i), 10'000, 1'000'000},
                        [&](Result<LeaseOutcome> r) {
                          ASSERT_TRUE(r.ok()) << r.error().text;
                          outcomes.push_back(std::move(r.value()));
                        });
  }
  ASSERT_TRUE(this->loop_.run_until([&] { return outcomes.size() == kAcquirers; }));
  std::string winner;
  int granted = 0;
  for (const LeaseOutcome& o : outcomes) {
    if (o.granted) {
      ++granted;
      winner = o.record.holder;
    }
  }
  ASSERT_EQ(granted, 1) << "two acquirers both won the lease";
  for (const LeaseOutcome& o : outcomes) {
    EXPECT_EQ(o.record.holder, winner) << "a loser is told who holds the lease";
    EXPECT_EQ(o.record.fencing, 1u);
    EXPECT_EQ(o.record.expires_ms, 1'010'000);
  }
}

// The lease's life: renew by the holder extends the same term, a stranger's renew or release
// changes nothing, expiry lets another holder in with fencing + 1, release frees it at once and
// the next term gets fencing + 1 again; a run-out holder cannot renew.
TYPED_TEST(StoreConformanceTest, LeaseTermsRenewExpireAndRelease) {
  LeaseOutcome a = this->lease_and_wait(LeaseOp::kAcquire, "proxy-a", 1'000'000);
  ASSERT_TRUE(a.granted);
  EXPECT_EQ(a.record.fencing, 1u);

  LeaseOutcome renewed = this->lease_and_wait(LeaseOp::kRenew, "proxy-a", 1'005'000);
  EXPECT_TRUE(renewed.granted);
  EXPECT_EQ(renewed.record.fencing, 1u) << "a renewal keeps the term";
  EXPECT_EQ(renewed.record.expires_ms, 1'015'000);

  LeaseOutcome again = this->lease_and_wait(LeaseOp::kAcquire, "proxy-a", 1'006'000);
  EXPECT_TRUE(again.granted) << "the holder's acquire extends its own term";
  EXPECT_EQ(again.record.fencing, 1u);

  LeaseOutcome stranger = this->lease_and_wait(LeaseOp::kRenew, "proxy-b", 1'007'000);
  EXPECT_FALSE(stranger.granted);
  EXPECT_EQ(stranger.record.holder, "proxy-a");
  LeaseOutcome stranger_release = this->lease_and_wait(LeaseOp::kRelease, "proxy-b", 1'007'000);
  EXPECT_FALSE(stranger_release.granted);
  EXPECT_EQ(stranger_release.record.holder, "proxy-a") << "only the holder can release";
  LeaseOutcome b_early = this->lease_and_wait(LeaseOp::kAcquire, "proxy-b", 1'015'999);
  EXPECT_FALSE(b_early.granted) << "one millisecond before expiry the lease is still held";
  EXPECT_EQ(b_early.record.holder, "proxy-a");

  // proxy-a's term ran out at 1'016'000.
  LeaseOutcome late_renew = this->lease_and_wait(LeaseOp::kRenew, "proxy-a", 1'016'000);
  EXPECT_FALSE(late_renew.granted) << "a renewal never revives a run-out term";
  EXPECT_EQ(late_renew.record.holder, "");
  LeaseOutcome b = this->lease_and_wait(LeaseOp::kAcquire, "proxy-b", 1'016'001);
  ASSERT_TRUE(b.granted);
  EXPECT_EQ(b.record.holder, "proxy-b");
  EXPECT_EQ(b.record.fencing, 2u) << "a new holder gets the next fencing number";

  LeaseOutcome released = this->lease_and_wait(LeaseOp::kRelease, "proxy-b", 1'017'000);
  EXPECT_FALSE(released.granted);
  EXPECT_EQ(released.record.holder, "");
  EXPECT_EQ(released.record.fencing, 2u);
  LeaseOutcome c = this->lease_and_wait(LeaseOp::kAcquire, "proxy-c", 1'017'001);
  ASSERT_TRUE(c.granted) << "a released lease is free at once";
  EXPECT_EQ(c.record.fencing, 3u);

  LeaseOutcome other_name = this->lease_and_wait(LeaseOp::kAcquire, "proxy-a", 1'017'002, 10'000, "another-lease");
  EXPECT_TRUE(other_name.granted) << "leases are independent by name";
  EXPECT_EQ(other_name.record.fencing, 1u);
}

}  // namespace
}  // namespace ix::node
