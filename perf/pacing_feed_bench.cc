// pacing_feed_bench: the proxy's merged reporting stream with and without the pacing module
// reading it, side by side in one run (issue 16: "measure the feed with and without the
// module"). In process, the way ixproxy wires it: worker 0 publishes every event on the
// ReportingFeed, a worker thread takes them (what every worker does for its reporting clients),
// and in (b) the real PacingModule reads the feed as its consumer on its own thread (100 pacing
// targets, a decision cycle every second, no lease: it never posts). The publisher is bounded the
// way the merge is by its links: at most `in_flight` events published and not yet taken by the
// worker, and at most `rate` events a second when given (0: as fast as the worker takes them).
// Rounds alternate (a) and (b); medians.
//
// Per mode it prints the events per second from the first publish until the worker has taken
// everything, and for (b) whether the module kept up (the feed cuts off a consumer that falls
// 65,536 events behind) and when it had counted every event.
//
//   pacing_feed_bench [interactions=200000] [rounds=5] [in_flight=16384] [rate=0]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "perf/pacing_stream.h"
#include "proxy/pacing/pacing_module.h"
#include "proxy/reporting/reporting_feed.h"

namespace {

using namespace ix;
using Clock = std::chrono::steady_clock;

struct Round {
  double worker_events_per_second = 0;
  double module_done_seconds = 0;  // (b): from the first publish until the module counted everything
  bool module_cut_off = false;
};

// A thread that takes worker 0's events off the feed as a worker's loop would, and counts them.
class WorkerThread {
 public:
  explicit WorkerThread(proxy::ReportingFeed& feed) : feed_(feed) {
    feed_.listen(0, [this] {
      std::lock_guard lock(mutex_);
      woken_ = true;
      cv_.notify_one();
    });
    thread_ = std::thread([this] { run(); });
  }
  ~WorkerThread() {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
      cv_.notify_one();
    }
    thread_.join();
  }
  size_t taken() const { return taken_.load(std::memory_order_acquire); }

 private:
  void run() {
    for (;;) {
      {
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [this] { return woken_ || done_; });
        if (done_) return;
        woken_ = false;
      }
      // Taking resets the feed's "was empty" state: drain until nothing is left.
      for (std::vector<proxy::FeedEvent> events = feed_.take(0); !events.empty(); events = feed_.take(0)) {
        taken_.fetch_add(events.size(), std::memory_order_release);
      }
    }
  }

  proxy::ReportingFeed& feed_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool woken_ = false, done_ = false;
  std::atomic<size_t> taken_{0};
  std::thread thread_;
};

Round run_round(const std::vector<std::shared_ptr<const std::vector<uint8_t>>>& payloads,
                const std::shared_ptr<config::ClusterConfig>& config, bool with_module, size_t in_flight, double rate) {
  proxy::ReportingFeed feed(1);
  WorkerThread worker(feed);
  metrics::Registry metrics;
  std::unique_ptr<pacing::PacingModule> module;
  int consumer = -1;
  if (with_module) {
    module = std::make_unique<pacing::PacingModule>(config, "bench", metrics);
    consumer = feed.add_consumer([m = module.get()] { m->wake(); });
    module->start({[&feed, consumer] { return feed.take_consumer(consumer); }, [] { return true; }, nullptr, nullptr});
  }
  auto module_events = [&] {
    const auto values = metrics.values("ix_pacing_events_total");
    return values.empty() ? 0.0 : values.front().second;
  };

  constexpr size_t kBatch = 64;
  const Clock::time_point start = Clock::now();
  uint64_t seq = 0;
  for (size_t i = 0; i < payloads.size(); i += kBatch) {
    while (seq - worker.taken() > in_flight) std::this_thread::yield();
    if (rate > 0) {
      const Clock::time_point due = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(static_cast<double>(seq) / rate));
      while (Clock::now() < due) std::this_thread::yield();
    }
    std::vector<proxy::FeedEvent> batch;
    for (size_t j = i; j < std::min(payloads.size(), i + kBatch); ++j) batch.push_back({0, ++seq, payloads[j], "101", false, false, "pair-1"});
    feed.publish(std::move(batch));
  }
  while (worker.taken() < payloads.size()) std::this_thread::yield();
  Round round;
  round.worker_events_per_second = static_cast<double>(payloads.size()) / std::chrono::duration<double>(Clock::now() - start).count();
  if (with_module) {
    while (module_events() < static_cast<double>(payloads.size()) && !feed.cut_off(consumer)) std::this_thread::yield();
    round.module_done_seconds = std::chrono::duration<double>(Clock::now() - start).count();
    round.module_cut_off = feed.cut_off(consumer).has_value();
    feed.remove_consumer(consumer);
    module->stop();
  }
  return round;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const int interactions = argc > 1 ? std::atoi(argv[1]) : 200'000;
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 5;
  const size_t in_flight = argc > 3 ? static_cast<size_t>(std::atoll(argv[3])) : 16'384;
  const double rate = argc > 4 ? std::atof(argv[4]) : 0;
  if (interactions <= 0 || rounds <= 0 || in_flight == 0 || rate < 0) {
    std::fprintf(stderr, "usage: %s [interactions>0] [rounds>0] [in_flight>0] [rate>=0 events/s]\n", argv[0]);
    return 2;
  }
  constexpr int kTargets = 100;
  auto config = perf::pacing_stream::cluster(kTargets);
  std::vector<std::shared_ptr<const std::vector<uint8_t>>> payloads;
  for (const wire::Frame& f : perf::pacing_stream::stream(kTargets, interactions)) {
    payloads.push_back(std::make_shared<const std::vector<uint8_t>>(f.data() + wire::kFrameHeaderSize, f.data() + f.size()));
  }
  std::printf("merged reporting feed, %zu events (%d proactive interactions over %d targets), at most %zu in flight, "
              "%s, median of %d rounds\n",
              payloads.size(), interactions, kTargets, in_flight,
              rate > 0 ? ("published at " + std::to_string(static_cast<long>(rate)) + " events/s").c_str() : "published as fast as taken",
              rounds);
  std::vector<double> off, on, module_done;
  int cut_off = 0;
  run_round(payloads, config, false, in_flight, rate);  // warm-up
  for (int r = 0; r < rounds; ++r) {
    off.push_back(run_round(payloads, config, false, in_flight, rate).worker_events_per_second);
    const Round b = run_round(payloads, config, true, in_flight, rate);
    on.push_back(b.worker_events_per_second);
    if (b.module_cut_off) {
      ++cut_off;
    } else {
      module_done.push_back(static_cast<double>(payloads.size()) / b.module_done_seconds);
    }
  }
  std::printf("  (a) without the pacing module: %10.0f events/s to the worker\n", median(off));
  std::printf("  (b) with the pacing module:    %10.0f events/s to the worker (ratio (b)/(a) %.2f)\n", median(on),
              median(on) / median(off));
  if (module_done.empty()) {
    std::printf("      the module fell 65,536 events behind and was cut off in every round (stale, as designed)\n");
  } else {
    std::printf("      the module kept up in %d of %d rounds (had counted every event at %.0f events/s, median of those)\n",
                rounds - cut_off, rounds, median(module_done));
  }
  return 0;
}
