// ThreadedStore's reader thread (issue 18 item 10: "a node's reporting catch-up reads its log
// synchronously on the event loop"). A reporting subscriber that resumes from an old seq reads its
// backlog through Store::read_events (ReportingHub::pump, the only reader of the log on the node);
// SqliteStore and PostgresStore serve it with ThreadedStore's reader thread. Here the log is one
// that takes as long as the test says — a cold disk, a remote database — and the loop must go on
// turning meanwhile, with the answer delivered back on the loop's thread.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "tests/node/store/slow_log_store.h"
#include "tests/support/test_loop.h"

namespace ix::node {
namespace {

using test::SlowLogStore;

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

}  // namespace
}  // namespace ix::node
