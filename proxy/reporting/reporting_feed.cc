#include "proxy/reporting/reporting_feed.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

#include "protocol/log.h"

namespace ix::proxy {

ReportingFeed::ReportingFeed(size_t workers, size_t max_queued)
    : queues_(workers), wake_(workers), worker_cut_off_(workers), max_queued_(std::max<size_t>(max_queued, 1)) {}

void ReportingFeed::set_max_queued(size_t max_queued) {
  std::lock_guard lock(mutex_);
  max_queued_ = std::max<size_t>(max_queued, 1);
}

size_t ReportingFeed::max_queued() const {
  std::lock_guard lock(mutex_);
  return max_queued_;
}

void ReportingFeed::count_cut_offs(metrics::Registry& registry) {
  static const char* kHelp = "Readers of the merged reporting stream (worker threads, the pacing module) cut off because "
                             "more events waited for them than the feed's bound";
  registry.declare_counters("ix_proxy_reporting_feed_cut_offs_total", kHelp, {{"reader", {"worker", "consumer"}}});
  metrics::Counter& workers = registry.counter("ix_proxy_reporting_feed_cut_offs_total", kHelp, {{"reader", "worker"}});
  metrics::Counter& consumers = registry.counter("ix_proxy_reporting_feed_cut_offs_total", kHelp, {{"reader", "consumer"}});
  std::lock_guard lock(mutex_);
  workers_cut_off_ = &workers;
  consumers_cut_off_ = &consumers;
}

bool ReportingFeed::enqueue(std::deque<FeedEvent>& queue, std::optional<std::string>& cut_off,
                            const std::vector<FeedEvent>& events, const char* kind, size_t index, metrics::Counter* cut_offs) {
  if (cut_off) return false;
  const bool was_empty = queue.empty();
  if (queue.size() + events.size() <= max_queued_) {
    queue.insert(queue.end(), events.begin(), events.end());
    return was_empty;
  }
  const size_t waiting = queue.size() + events.size();
  const std::string reader = std::string(kind) + " " + std::to_string(index);  // only now: publish() is hot
  cut_off = "the merged reporting stream had more than " + std::to_string(max_queued_) + " events waiting for " +
            reader + "; it reads too slowly and was cut off";
  spdlog::warn("event=reporting_feed_cut_off reader={} waiting={} limit={}", quote(reader), waiting, max_queued_);
  if (cut_offs) cut_offs->inc();
  queue.clear();
  return true;  // once more, so that it notices
}

void ReportingFeed::listen(int worker, std::function<void()> wake) {
  std::lock_guard lock(mutex_);
  if (!wake_[static_cast<size_t>(worker)]) wake_[static_cast<size_t>(worker)] = std::move(wake);
}

void ReportingFeed::publish(std::vector<FeedEvent> events) { deliver(std::move(events), true); }

void ReportingFeed::publish_state(FeedEvent state) { deliver({std::move(state)}, false); }

void ReportingFeed::publish_stream_stopped(PairIndex pair, std::string pair_id) {
  FeedEvent stopped;
  stopped.pair = pair;
  stopped.pair_id = std::move(pair_id);
  stopped.stream_stopped = true;
  deliver({std::move(stopped)}, false);
}

void ReportingFeed::deliver(std::vector<FeedEvent> events, bool stream) {
  if (events.empty()) return;
  std::lock_guard wake_lock(wake_mutex_);
  std::vector<std::function<void()>*> to_wake;
  std::vector<std::shared_ptr<std::function<void()>>> consumers_to_wake;
  {
    std::lock_guard lock(mutex_);
    for (const FeedEvent& e : events) {
      if (!stream) break;  // a state is no event of the stream: positions stay
      if (e.pair >= published_.size()) published_.resize(e.pair + 1, 0);
      published_[e.pair] = std::max(published_[e.pair], e.seq);
    }
    for (size_t w = 0; stream && w < queues_.size(); ++w) {
      if (!wake_[w]) continue;
      if (enqueue(queues_[w], worker_cut_off_[w], events, "worker", w, workers_cut_off_)) {
        to_wake.push_back(&wake_[w]);
      }
    }
    for (auto& [id, consumer] : consumers_) {
      if (enqueue(consumer.queue, consumer.cut_off, events, "consumer", static_cast<size_t>(id), consumers_cut_off_)) {
        consumers_to_wake.push_back(consumer.wake);
      }
    }
  }
  // A worker's wake function is set once and never changes, so it may run outside the lock; a
  // consumer's is kept alive by its shared_ptr, and remove_consumer() waits on wake_mutex_.
  for (auto* wake : to_wake) (*wake)();
  for (auto& wake : consumers_to_wake) (*wake)();
}

std::vector<FeedEvent> ReportingFeed::take(int worker) {
  std::lock_guard lock(mutex_);
  std::deque<FeedEvent>& queue = queues_[static_cast<size_t>(worker)];
  std::vector<FeedEvent> out(std::make_move_iterator(queue.begin()), std::make_move_iterator(queue.end()));
  queue.clear();
  return out;
}

int ReportingFeed::add_consumer(std::function<void()> wake) {
  std::lock_guard lock(mutex_);
  const int id = next_consumer_++;
  consumers_[id].wake = std::make_shared<std::function<void()>>(std::move(wake));
  return id;
}

std::vector<FeedEvent> ReportingFeed::take_consumer(int consumer) {
  std::lock_guard lock(mutex_);
  auto it = consumers_.find(consumer);
  if (it == consumers_.end()) return {};
  std::deque<FeedEvent>& queue = it->second.queue;
  std::vector<FeedEvent> out(std::make_move_iterator(queue.begin()), std::make_move_iterator(queue.end()));
  queue.clear();
  return out;
}

void ReportingFeed::remove_consumer(int consumer) {
  std::lock_guard wake_lock(wake_mutex_);
  std::lock_guard lock(mutex_);
  consumers_.erase(consumer);
}

std::optional<std::string> ReportingFeed::cut_off(int consumer) const {
  std::lock_guard lock(mutex_);
  auto it = consumers_.find(consumer);
  return it == consumers_.end() ? std::nullopt : it->second.cut_off;
}

bool ReportingFeed::rejoin_consumer(int consumer) {
  std::lock_guard lock(mutex_);
  auto it = consumers_.find(consumer);
  if (it == consumers_.end() || !it->second.cut_off) return false;
  it->second.cut_off.reset();
  it->second.queue.clear();
  return true;
}

std::optional<std::string> ReportingFeed::worker_cut_off(int worker) {
  std::lock_guard lock(mutex_);
  return std::exchange(worker_cut_off_[static_cast<size_t>(worker)], std::nullopt);
}

void ReportingFeed::start_stream() {
  std::function<void()> starter;
  {
    std::lock_guard lock(mutex_);
    if (stream_requested_) return;
    stream_requested_ = true;
    starter = stream_starter_;
  }
  if (starter) starter();
}

void ReportingFeed::set_stream_starter(std::function<void()> starter) {
  bool requested;
  {
    std::lock_guard lock(mutex_);
    stream_starter_ = starter;
    requested = stream_requested_;
  }
  if (requested && starter) starter();
}

bool ReportingFeed::subscribed() const {
  std::lock_guard lock(mutex_);
  return subscribed_;
}

void ReportingFeed::set_subscribed() {
  std::lock_guard lock(mutex_);
  subscribed_ = true;
}

uint64_t ReportingFeed::published_seq(PairIndex pair) const {
  std::lock_guard lock(mutex_);
  return pair < published_.size() ? published_[pair] : 0;
}

}  // namespace ix::proxy
