#include "proxy/reporting/reporting_feed.h"

namespace ix::proxy {

ReportingFeed::ReportingFeed(size_t workers) : queues_(workers), wake_(workers) {}

void ReportingFeed::listen(int worker, std::function<void()> wake) {
  std::lock_guard lock(mutex_);
  if (!wake_[static_cast<size_t>(worker)]) wake_[static_cast<size_t>(worker)] = std::move(wake);
}

void ReportingFeed::publish(std::vector<FeedEvent> events) {
  std::vector<std::function<void()>*> to_wake;
  {
    std::lock_guard lock(mutex_);
    for (const FeedEvent& e : events) {
      if (e.pair >= published_.size()) published_.resize(e.pair + 1, 0);
      published_[e.pair] = std::max(published_[e.pair], e.seq);
    }
    for (size_t w = 0; w < queues_.size(); ++w) {
      if (!wake_[w]) continue;
      const bool was_empty = queues_[w].empty();
      queues_[w].insert(queues_[w].end(), events.begin(), events.end());
      if (was_empty) to_wake.push_back(&wake_[w]);
    }
  }
  // A wake function is set once and never changes, so it may run outside the lock.
  for (auto* wake : to_wake) (*wake)();
}

std::vector<FeedEvent> ReportingFeed::take(int worker) {
  std::lock_guard lock(mutex_);
  std::deque<FeedEvent>& queue = queues_[static_cast<size_t>(worker)];
  std::vector<FeedEvent> out(std::make_move_iterator(queue.begin()), std::make_move_iterator(queue.end()));
  queue.clear();
  return out;
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

void ReportingFeed::reset_positions(size_t pairs) {
  std::lock_guard lock(mutex_);
  published_.assign(pairs, 0);
}

}  // namespace ix::proxy
