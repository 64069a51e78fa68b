// ThreadedStore's threads. Its reader thread (issue 18 item 10: "a node's reporting catch-up reads its log
// synchronously on the event loop"). A reporting subscriber that resumes from an old seq reads its
// backlog through Store::read_events (ReportingHub::pump, the only reader of the log on the node);
// SqliteStore and PostgresStore serve it with ThreadedStore's reader thread. Here the log is one
// that takes as long as the test says — a cold disk, a remote database — and the loop must go on
// turning meanwhile, with the answer delivered back on the loop's thread. Its writer thread: a
// lease renewal must not wait for a long queue of commits (the lease would run out under load),
// while a release still follows the commits queued before it.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "tests/node/store/slow_log_store.h"
#include "tests/support/test_loop.h"

namespace ix::node {
namespace {

using test::SlowLogStore;

// Every batch of commits takes 50 ms (a slow disk, a busy database); lease commands are instant.
class SlowCommitStore final : public ThreadedStore {
 public:
  explicit SlowCommitStore(uv_loop_t* loop) : ThreadedStore(false, 1) { start(loop); }
  ~SlowCommitStore() override { close(); }
  Result<LoadedState> load() override { return LoadedState{}; }

 protected:
  Status apply(std::vector<Pending>&, const Fence&) override {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    return {};
  }
  Result<LeaseOutcome> apply_lease(const LeaseCommand&) override { return LeaseOutcome{}; }
  Result<std::vector<StoredEvent>> read(uint64_t, size_t) override { return std::vector<StoredEvent>{}; }
  std::optional<uint64_t> read_first_seq() override { return 1; }
};

TEST(ThreadedStore, AReadOfTheEventLogNeverHoldsTheLoopAndItsAnswerComesBackOnTheLoopThread) {
  test::TestLoop loop;
  {
    SlowLogStore store(loop.get());
    std::optional<Result<std::vector<StoredEvent>>> got;
    std::thread::id answered_on;
    store.read_events(41, 100, [&](Result<std::vector<StoredEvent>> events) {
      answered_on = std::this_thread::get_id();
      got = std::move(events);
    });
    ASSERT_TRUE(loop.run_until([&] { return store.reading.load(); }, 5000)) << "the read never started";

    // The read is stuck in the log; the loop keeps turning: a timer fires again and again.
    EXPECT_TRUE(loop_keeps_turning(loop)) << "the loop stalled while the log was read";
    EXPECT_FALSE(got.has_value()) << "answered before the log was";
    EXPECT_NE(store.read_on.load(), std::this_thread::get_id()) << "the log was read on the loop's thread";

    store.released = true;
    ASSERT_TRUE(loop.run_until([&] { return got.has_value(); }, 5000));
    EXPECT_EQ(answered_on, std::this_thread::get_id()) << "the answer comes back on the loop's thread";
    ASSERT_TRUE(got->ok());
    ASSERT_EQ((*got)->size(), 1u);
    EXPECT_EQ((*got)->front().seq, 42u);
  }
  loop.run_for(10);  // the mailbox and the timer close on the next turns
}

TEST(ThreadedStore, ARenewalOvertakesQueuedCommitsAndAReleaseWaitsForThem) {
  test::TestLoop loop;
  {
    SlowCommitStore store(loop.get());
    std::vector<std::string> done;  // in the order the loop heard of them
    auto lease = [&](LeaseOp op, std::string name) {
      store.lease(LeaseCommand{op, "pair", "me", 1000, 0}, [&done, name](Result<LeaseOutcome>) { done.push_back(name); });
    };
    for (int i = 0; i < 10; ++i) {
      store.commit(Transaction{}, [&done, i](const Status&) { done.push_back("commit " + std::to_string(i)); });
    }
    lease(LeaseOp::kRenew, "renew");
    lease(LeaseOp::kRelease, "release");
    ASSERT_TRUE(loop.run_until([&] { return done.size() == 12; }, 5000));
    // The writer may have taken the first commit before the renewal was queued; not the second.
    const auto at = [&](const std::string& name) { return std::find(done.begin(), done.end(), name) - done.begin(); };
    EXPECT_LT(at("renew"), at("commit 1")) << "the renewal waited for the queue of commits";
    EXPECT_EQ(at("release"), 11) << "a release follows every commit queued before it";
  }
  loop.run_for(10);
}

}  // namespace
}  // namespace ix::node
