// ReportingFeed as the pacing module reads it: a consumer slot that is not a worker, fed on its
// own thread, and start_stream() reaching worker 0 exactly once.
#include "proxy/reporting/reporting_feed.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <thread>

#include "protocol/http/metrics.h"

namespace ix::proxy {
namespace {

FeedEvent event(PairIndex pair, uint64_t seq) { return FeedEvent{pair, seq, nullptr, "t1", false, false, "pair-" + std::to_string(pair + 1)}; }

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

// Issue 18 item 10: the queues are bounded. The reader that lets more than the bound wait — the
// slowest — is cut off with a reason and woken once more to notice; the others carry on. It is
// fed again once it rejoins.
TEST(ReportingFeed, TheSlowestConsumerIsCutOffWithAReasonAndTheOthersCarryOn) {
  ReportingFeed feed(1, 4);
  int wakes_slow = 0, wakes_fast = 0;
  const int slow = feed.add_consumer([&] { ++wakes_slow; });
  const int fast = feed.add_consumer([&] { ++wakes_fast; });
  feed.publish({event(0, 1), event(0, 2), event(0, 3)});
  EXPECT_EQ(feed.take_consumer(fast).size(), 3u);
  feed.publish({event(0, 4)});  // slow: 4 waiting, at the bound
  EXPECT_FALSE(feed.cut_off(slow));
  EXPECT_EQ(feed.take_consumer(fast).size(), 1u);
  feed.publish({event(0, 5)});  // slow: would be 5
  std::optional<std::string> why = feed.cut_off(slow);
  ASSERT_TRUE(why);
  EXPECT_NE(why->find("more than 4 events"), std::string::npos) << *why;
  EXPECT_NE(why->find("consumer " + std::to_string(slow)), std::string::npos) << *why;
  EXPECT_EQ(wakes_slow, 2) << "woken once more to notice";
  EXPECT_TRUE(feed.take_consumer(slow).empty()) << "its queue was dropped";
  feed.publish({event(0, 6)});
  EXPECT_TRUE(feed.take_consumer(slow).empty()) << "it receives nothing more";
  EXPECT_EQ(wakes_slow, 2);
  std::vector<FeedEvent> got = feed.take_consumer(fast);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].seq, 5u);
  EXPECT_EQ(got[1].seq, 6u);
  EXPECT_FALSE(feed.cut_off(fast));
  // The slow one caught up and rejoins: fed from then on, what it missed stays missed.
  EXPECT_FALSE(feed.rejoin_consumer(fast)) << "never cut off";
  EXPECT_TRUE(feed.rejoin_consumer(slow));
  EXPECT_FALSE(feed.cut_off(slow));
  EXPECT_FALSE(feed.rejoin_consumer(slow)) << "rejoined once";
  feed.publish({event(0, 7)});
  got = feed.take_consumer(slow);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].seq, 7u);
  EXPECT_EQ(wakes_slow, 3);
  feed.remove_consumer(slow);
  EXPECT_FALSE(feed.cut_off(slow)) << "a removed consumer is simply gone";
  EXPECT_FALSE(feed.rejoin_consumer(slow));
}

TEST(ReportingFeed, ACutOffWorkerIsToldOnceAndListensAgainFromThen) {
  ReportingFeed feed(2, 3);
  int wakes0 = 0, wakes1 = 0;
  feed.listen(0, [&] { ++wakes0; });
  feed.listen(1, [&] { ++wakes1; });
  feed.publish({event(0, 1), event(0, 2)});
  EXPECT_EQ(feed.take(0).size(), 2u);
  feed.publish({event(0, 3), event(0, 4)});  // worker 1: 4 > 3
  EXPECT_EQ(wakes1, 2);
  EXPECT_TRUE(feed.take(1).empty());
  std::optional<std::string> why = feed.worker_cut_off(1);
  ASSERT_TRUE(why);
  EXPECT_NE(why->find("worker 1"), std::string::npos) << *why;
  EXPECT_FALSE(feed.worker_cut_off(1)) << "told once";
  EXPECT_FALSE(feed.worker_cut_off(0));
  EXPECT_EQ(feed.take(0).size(), 2u);
  feed.publish({event(0, 5)});
  std::vector<FeedEvent> again = feed.take(1);
  ASSERT_EQ(again.size(), 1u) << "fed again after it was told";
  EXPECT_EQ(again[0].seq, 5u);
  EXPECT_EQ(feed.published_seq(0), 5u);
}

// The cut-offs are counted (declared at 0 from the start, so rate() sees the first one) by the
// kind of reader, and the bound follows reporting-buffer, also when a reload changes it.
TEST(ReportingFeed, CutOffsAreCountedByReaderAndTheBoundFollowsReportingBuffer) {
  EXPECT_EQ(feed_queue_limit(100), kMaxFeedQueue) << "never below the default";
  EXPECT_EQ(feed_queue_limit(1'000'000), 1'000'000u) << "never below what one client may lag";

  metrics::Registry registry;
  ReportingFeed feed(2, 3);
  feed.count_cut_offs(registry);
  auto count = [&](const std::string& reader) {
    for (const auto& [labels, value] : registry.values("ix_proxy_reporting_feed_cut_offs_total")) {
      if (labels == metrics::Labels{{"reader", reader}}) return value;
    }
    return -1.0;  // not declared
  };
  EXPECT_EQ(count("worker"), 0);
  EXPECT_EQ(count("consumer"), 0);
  EXPECT_NE(registry.render().find("ix_proxy_reporting_feed_cut_offs_total{reader=\"consumer\"} 0"), std::string::npos);

  feed.listen(0, [] {});
  feed.listen(1, [] {});
  const int consumer = feed.add_consumer([] {});
  feed.publish({event(0, 1), event(0, 2), event(0, 3)});
  EXPECT_EQ(feed.take(0).size(), 3u);
  feed.publish({event(0, 4)});  // worker 1 and the consumer: 4 > 3
  EXPECT_EQ(count("worker"), 1);
  EXPECT_EQ(count("consumer"), 1);
  EXPECT_TRUE(feed.worker_cut_off(1));
  EXPECT_TRUE(feed.rejoin_consumer(consumer));

  // A reload raises the bound: five may wait now.
  feed.set_max_queued(5);
  EXPECT_EQ(feed.max_queued(), 5u);
  EXPECT_EQ(feed.take(0).size(), 1u);
  feed.publish({event(0, 5), event(0, 6), event(0, 7), event(0, 8), event(0, 9)});
  EXPECT_FALSE(feed.cut_off(consumer));
  EXPECT_FALSE(feed.worker_cut_off(1));
  EXPECT_EQ(feed.take(0).size(), 5u);
  EXPECT_EQ(feed.take(1).size(), 5u);
  EXPECT_EQ(feed.take_consumer(consumer).size(), 5u);
  EXPECT_EQ(count("worker"), 1);
  EXPECT_EQ(count("consumer"), 1);
}

}  // namespace
}  // namespace ix::proxy
