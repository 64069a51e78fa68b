// ReportingFeed: the proxy's one merged reporting stream, the hand-off between threads. Worker 0
// holds the node subscriptions and the merge (ReportingMerge, AgentEventDedupe) and publishes
// every event it releases here; each worker with reporting clients takes them on its own loop
// and hands them to its clients, and readers that are not workers (the pacing module) take them
// on their own thread through a consumer slot. The nodes see one subscription per proxy, however
// many workers and consumers read it.
//
// Bounded: each worker's and each consumer's queue holds at most max_queued events (ProxyServer
// sets feed_queue_limit(reporting-buffer); kMaxFeedQueue by default). A reader whose queue would
// grow past it is the slowest one and is cut off, the way a slow reporting client is: its queue
// is dropped, it receives nothing more, it is woken once more so it notices, the reason says why,
// a warning is logged (event=reporting_feed_cut_off) and ix_proxy_reporting_feed_cut_offs_total
// {reader="worker"|"consumer"} counts it (count_cut_offs()). A cut-off consumer sees it with cut_off(id)
// (take_consumer() then stays empty until it rejoins with rejoin_consumer()); a cut-off worker
// sees it with worker_cut_off(), which also lets it listen again from that moment on — its
// reporting clients missed events and must be cut off in turn (they resume from their positions,
// replayed by the nodes). The others carry on.
//
// Thread-safe: publish() runs on worker 0's thread, take() on each worker's, take_consumer() on
// the consumer's; wake functions are called from the publishing thread, outside the lock.
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "protocol/http/metrics.h"
#include "proxy/route/routing_table.h"

namespace ix::proxy {

struct FeedEvent {
  PairIndex pair = 0;  // the pair's slot (RoutingTable), the same on every worker
  uint64_t seq = 0;
  std::shared_ptr<const std::vector<uint8_t>> payload;  // the node's envelope, verified
  std::string tenant;
  bool agent = false;  // an agent event (else an interaction event)
  bool stream_stopped = false;  // no payload: the pair's stream stopped (consumers only)
  std::string pair_id;          // the pair's ID, for readers that follow the configuration on their own thread
};

// Events a worker or consumer may have waiting before it is cut off: about two seconds of a busy
// cluster's stream (tens of thousands of events a second), a few megabytes of queue (payloads
// are shared between the queues).
inline constexpr size_t kMaxFeedQueue = 65'536;

// The bound for a proxy whose reporting clients may each lag `reporting-buffer` events: never
// less than kMaxFeedQueue, and never less than what one client may lag (an operator who raised
// reporting-buffer for slow readers gets the same room between the threads).
inline size_t feed_queue_limit(uint32_t reporting_buffer) { return std::max<size_t>(kMaxFeedQueue, reporting_buffer); }

class ReportingFeed {
 public:
  explicit ReportingFeed(size_t workers, size_t max_queued = kMaxFeedQueue);

  // The bound from now on (a reload may change reporting-buffer); a reader already past it is
  // cut off at the next publication.
  void set_max_queued(size_t max_queued);
  size_t max_queued() const;
  // Declares ix_proxy_reporting_feed_cut_offs_total{reader} at 0 in `registry` and counts every
  // cut-off there from now on. The registry must outlive the feed's publishers.
  void count_cut_offs(metrics::Registry& registry);

  // From now on, worker `worker` receives what is published: wake() (thread-safe, e.g. a
  // uv_async_send) is called when events wait for it. Idempotent.
  void listen(int worker, std::function<void()> wake);
  void publish(std::vector<FeedEvent> events);
  // A pair's EventReportingState (where its stream stands), for the consumers only: workers'
  // clients never see it and the published positions do not move. Worker 0 publishes it as
  // the answer arrives on the pair's link, so it precedes every later event of that pair.
  void publish_state(FeedEvent state);
  // The pair's stream stopped (worker 0 lost the pair), for the consumers only, in the stream's
  // order: what they know of the pair may be behind until its next state arrives.
  void publish_stream_stopped(PairIndex pair, std::string pair_id);
  std::vector<FeedEvent> take(int worker);

  // A reader that is not a worker (the pacing module): receives every event published from now
  // on, on its own thread; wake() (thread-safe) is called when events start waiting for it.
  // Returns its id.
  int add_consumer(std::function<void()> wake);
  std::vector<FeedEvent> take_consumer(int consumer);
  // The consumer reads no more; what waits for it is dropped. Its wake is not called again
  // once this returns.
  void remove_consumer(int consumer);
  // Why the consumer was cut off for reading too slowly, or nullopt while it is fed (also for
  // an unknown or removed id).
  std::optional<std::string> cut_off(int consumer) const;
  // A cut-off consumer that has caught up with what it had asks to be fed again: from now on it
  // receives what is published (what was published meanwhile is lost to it — it must rebuild
  // its state, e.g. from the pairs' states that worker 0 publishes again). False when it was
  // not cut off (or is unknown).
  bool rejoin_consumer(int consumer);
  // Why worker `worker` was cut off since it last asked, or nullopt. Asking clears it: the
  // worker's queue fills again from now on.
  std::optional<std::string> worker_cut_off(int worker);

  // Asks worker 0 to stream from the pairs even when no reporting client has asked (the pacing
  // module needs the stream without a client). Idempotent; thread-safe. A request made before
  // the starter is set is passed on when it is.
  void start_stream();
  // How start_stream() reaches worker 0 (ProxyServer posts to worker 0's loop).
  void set_stream_starter(std::function<void()> starter);

  // Whether worker 0 streams from the pairs yet, and the last seq published from each pair
  // (a client resuming from before it cannot join live: it needs the nodes' replay).
  bool subscribed() const;
  void set_subscribed();
  // Positions are by pair slot (RoutingTable), which a reload does not change.
  uint64_t published_seq(PairIndex pair) const;

 private:
  // stream: to workers and consumers, moving the positions; else to consumers only.
  void deliver(std::vector<FeedEvent> events, bool stream);

  struct Consumer {
    std::deque<FeedEvent> queue;
    std::shared_ptr<std::function<void()>> wake;
    std::optional<std::string> cut_off;  // set: receives nothing more
  };
  // Appends events to a reader's queue, or cuts it off when that would pass max_queued_.
  // Returns whether the reader must be woken. Called with mutex_ held.
  bool enqueue(std::deque<FeedEvent>& queue, std::optional<std::string>& cut_off, const std::vector<FeedEvent>& events,
               const char* kind, size_t index, metrics::Counter* cut_offs);

  // Publishing and removal both hold this, so a wake never runs for a removed consumer.
  std::mutex wake_mutex_;
  mutable std::mutex mutex_;
  std::vector<std::deque<FeedEvent>> queues_;  // by worker
  std::vector<std::function<void()>> wake_;    // by worker; empty = not listening
  std::vector<std::optional<std::string>> worker_cut_off_;  // by worker
  size_t max_queued_;
  metrics::Counter* workers_cut_off_ = nullptr;    // ix_proxy_reporting_feed_cut_offs_total{reader="worker"}
  metrics::Counter* consumers_cut_off_ = nullptr;  // {reader="consumer"}
  std::map<int, Consumer> consumers_;          // by id
  int next_consumer_ = 0;
  std::vector<uint64_t> published_;            // by pair
  bool subscribed_ = false;
  bool stream_requested_ = false;
  std::function<void()> stream_starter_;
};

}  // namespace ix::proxy
