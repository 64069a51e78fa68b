#include "proxy/pacing/sliding_window.h"

namespace ix::pacing {

SlidingWindow::SlidingWindow(int64_t bucket_us, size_t buckets) : bucket_us_(bucket_us), buckets_(buckets) {}

void SlidingWindow::add(int64_t at_us, double value, uint64_t count) {
  if (at_us < 0) return;
  const int64_t epoch = at_us / bucket_us_;
  Bucket& b = buckets_[static_cast<size_t>(epoch) % buckets_.size()];
  if (b.epoch > epoch) return;  // older than the ring remembers
  if (b.epoch != epoch) b = Bucket{epoch, 0, 0};
  b.count += count;
  b.total += value;
}

SlidingWindow::Sum SlidingWindow::sum(int64_t now_us, int64_t span_us) const {
  const int64_t now_epoch = now_us / bucket_us_;
  const int64_t oldest = now_epoch - span_us / bucket_us_;  // exclusive
  Sum sum;
  for (const Bucket& b : buckets_) {
    if (b.epoch > oldest && b.epoch <= now_epoch) {
      sum.count += b.count;
      sum.total += b.total;
    }
  }
  return sum;
}

}  // namespace ix::pacing
