// SlidingWindow: how many observations (and their summed value, e.g. waiting seconds) fell in the
// last few minutes, kept in a ring of fixed time buckets so that adding is O(1) and reading a
// window costs one pass over the buckets, however many events there were. Time is passed in
// (event timestamps), so the window is deterministic and replayable. An observation older than
// the ring's span is ignored. Not thread-safe: one owner.
#pragma once

#include <cstddef>
#include <array>
#include <cstdint>
#include <vector>

namespace ix::pacing {

class SlidingWindow {
 public:
  struct Sum {
    uint64_t count = 0;
    double total = 0;
  };

  // bucket_us × buckets is the longest span that can be read.
  SlidingWindow(int64_t bucket_us, size_t buckets);

  // `count` observations at once, `value` their summed value.
  void add(int64_t at_us, double value, uint64_t count = 1);
  // The observations in (now − span, now], to bucket precision.
  Sum sum(int64_t now_us, int64_t span_us) const;
  // The same for several spans at once, in one pass over the buckets.
  template <size_t N>
  std::array<Sum, N> sums(int64_t now_us, const std::array<int64_t, N>& spans_us) const {
    std::array<Sum, N> out{};
    const int64_t now_epoch = now_us / bucket_us_;
    for (const Bucket& b : buckets_) {
      if (b.epoch > now_epoch || b.epoch < 0) continue;
      for (size_t i = 0; i < N; ++i) {
        if (b.epoch > now_epoch - spans_us[i] / bucket_us_) {
          out[i].count += b.count;
          out[i].total += b.total;
        }
      }
    }
    return out;
  }
  int64_t span_us() const { return bucket_us_ * static_cast<int64_t>(buckets_.size()); }

 private:
  struct Bucket {
    int64_t epoch = -1;  // at_us / bucket_us of what it holds; -1 = empty
    uint64_t count = 0;
    double total = 0;
  };
  int64_t bucket_us_;
  std::vector<Bucket> buckets_;
};

}  // namespace ix::pacing
