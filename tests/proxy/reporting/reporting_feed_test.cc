// ReportingFeed as the pacing module reads it: a consumer slot that is not a worker, fed on its
// own thread, and start_stream() reaching worker 0 exactly once.
#include "proxy/reporting/reporting_feed.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <thread>

namespace ix::proxy {
namespace {

FeedEvent event(PairIndex pair, uint64_t seq) { return FeedEvent{pair, seq, nullptr, "t1", false}; }

TEST(ReportingFeed, ConsumerReceivesEveryEventPublishedAfterItJoinedAndIsWokenOncePerBatchWaiting) {
  ReportingFeed feed(2);
  feed.publish({event(0, 1)});  // before the consumer: not its business
  int wakes = 0;
  const int consumer = feed.add_consumer([&] { ++wakes; });
  feed.publish({event(0, 2), event(1, 1)});
  feed.publish({event(0, 3)});  // still waiting: no second wake
  EXPECT_EQ(wakes, 1);
  std::vector<FeedEvent> got = feed.take_consumer(consumer);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].seq, 2u);
  EXPECT_EQ(got[1].pair, 1u);
  EXPECT_EQ(got[2].seq, 3u);
  EXPECT_TRUE(feed.take_consumer(consumer).empty());
  feed.publish({event(1, 2)});
  EXPECT_EQ(wakes, 2);
  // The workers' queues are separate: a worker that is not listening gets nothing, one that
  // listens gets its own copy.
  EXPECT_TRUE(feed.take(0).empty());
  feed.listen(1, [] {});
  feed.publish({event(0, 4)});
  EXPECT_EQ(feed.take(1).size(), 1u);
  EXPECT_EQ(feed.take_consumer(consumer).size(), 2u);
}

TEST(ReportingFeed, TwoConsumersEachGetEveryEventAndARemovedOneIsNeverWokenAgain) {
  ReportingFeed feed(1);
  int wakes_a = 0, wakes_b = 0;
  const int a = feed.add_consumer([&] { ++wakes_a; });
  const int b = feed.add_consumer([&] { ++wakes_b; });
  EXPECT_NE(a, b);
  feed.publish({event(0, 1)});
  EXPECT_EQ(feed.take_consumer(a).size(), 1u);
  feed.remove_consumer(b);
  feed.publish({event(0, 2)});
  EXPECT_EQ(wakes_a, 2);
  EXPECT_EQ(wakes_b, 1);
  EXPECT_TRUE(feed.take_consumer(b).empty());
}

TEST(ReportingFeed, ConsumerOnItsOwnThreadReadsEverythingPublishedFromAnother) {
  ReportingFeed feed(1);
  std::mutex mutex;
  std::condition_variable woken;
  bool pending = false;
  const int consumer = feed.add_consumer([&] {
    std::lock_guard lock(mutex);
    pending = true;
    woken.notify_one();
  });
  constexpr uint64_t kEvents = 5000;
  std::thread reader([&] {
    uint64_t next = 1;
    while (next <= kEvents) {
      std::unique_lock lock(mutex);
      woken.wait(lock, [&] { return pending; });
      pending = false;
      lock.unlock();
      for (const FeedEvent& e : feed.take_consumer(consumer)) {
        ASSERT_EQ(e.seq, next);  // in publication order, none lost, none twice
        ++next;
      }
    }
  });
  for (uint64_t seq = 1; seq <= kEvents; ++seq) feed.publish({event(0, seq)});
  reader.join();
  EXPECT_EQ(feed.published_seq(0), kEvents);
}

TEST(ReportingFeed, StartStreamReachesTheStarterOnceAndARequestBeforeTheStarterIsKept) {
  ReportingFeed feed(1);
  feed.start_stream();  // before the proxy started its workers
  std::atomic<int> starts = 0;
  feed.set_stream_starter([&] { ++starts; });
  EXPECT_EQ(starts, 1);
  feed.start_stream();
  feed.start_stream();
  EXPECT_EQ(starts, 1);

  ReportingFeed later(1);
  std::atomic<int> later_starts = 0;
  later.set_stream_starter([&] { ++later_starts; });
  EXPECT_EQ(later_starts, 0);  // nobody asked yet
  std::thread a([&] { later.start_stream(); }), b([&] { later.start_stream(); });
  a.join();
  b.join();
  EXPECT_EQ(later_starts, 1);
}

}  // namespace
}  // namespace ix::proxy
