#include "proxy/route/interaction_cache.h"

#include <algorithm>

namespace ix::proxy {

std::optional<PairIndex> InteractionCache::find(std::string_view interaction_id) {
  auto it = by_id_.find(interaction_id);
  if (it == by_id_.end()) {
    ++misses_;
    return std::nullopt;
  }
  ++hits_;
  return it->second.pair;
}

void InteractionCache::remember(const std::string& interaction_id, PairIndex pair) {
  if (capacity_ == 0) return;
  auto it = by_id_.find(interaction_id);
  if (it != by_id_.end()) {
    it->second.pair = pair;
    return;
  }
  if (by_id_.size() >= capacity_) {
    by_id_.erase(oldest_first_.front());
    oldest_first_.pop_front();
  }
  oldest_first_.push_back(interaction_id);
  by_id_.emplace(interaction_id, Entry{pair, std::prev(oldest_first_.end())});
}

void InteractionCache::forget(std::string_view interaction_id) {
  auto it = by_id_.find(interaction_id);
  if (it == by_id_.end()) return;
  oldest_first_.erase(it->second.age);
  by_id_.erase(it);
}

size_t InteractionCache::forget_pairs(const PairSet& pairs) {
  size_t forgotten = 0;
  for (auto it = by_id_.begin(); it != by_id_.end();) {
    if (std::find(pairs.begin(), pairs.end(), it->second.pair) == pairs.end()) {
      ++it;
      continue;
    }
    oldest_first_.erase(it->second.age);
    it = by_id_.erase(it);
    ++forgotten;
  }
  return forgotten;
}

}  // namespace ix::proxy
