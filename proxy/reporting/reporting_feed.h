// ReportingFeed: the proxy's one merged reporting stream, shared by its worker loops. Worker 0
// holds the node subscriptions and the merge (ReportingMerge, AgentEventDedupe) and publishes
// every event it releases here; each worker with reporting clients takes them on its own loop
// and hands them to its clients. The nodes see one subscription per proxy, however many
// workers it runs. Thread-safe: publish() on worker 0's thread, take() on each worker's.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "proxy/route/routing_table.h"

namespace ix::proxy {

struct FeedEvent {
  PairIndex pair = 0;
  uint64_t seq = 0;
  std::shared_ptr<const std::vector<uint8_t>> payload;  // the node's envelope, verified
  std::string tenant;
  bool agent = false;  // an agent event (else an interaction event)
};

class ReportingFeed {
 public:
  explicit ReportingFeed(size_t workers);

  // From now on, worker `worker` receives what is published: wake() (thread-safe, e.g. a
  // uv_async_send) is called when events wait for it. Idempotent.
  void listen(int worker, std::function<void()> wake);
  void publish(std::vector<FeedEvent> events);
  std::vector<FeedEvent> take(int worker);

  // Whether worker 0 streams from the pairs yet, and the last seq published from each pair
  // (a client resuming from before it cannot join live: it needs the nodes' replay).
  bool subscribed() const;
  void set_subscribed();
  uint64_t published_seq(PairIndex pair) const;
  // The pairs changed (a reload): positions start over.
  void reset_positions(size_t pairs);

 private:
  mutable std::mutex mutex_;
  std::vector<std::deque<FeedEvent>> queues_;  // by worker
  std::vector<std::function<void()>> wake_;    // by worker; empty = not listening
  std::vector<uint64_t> published_;            // by pair
  bool subscribed_ = false;
};

}  // namespace ix::proxy
