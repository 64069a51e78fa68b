// InteractionCache: which pair owns an interaction whose ID does not carry a tag (client-supplied
// IDs), remembered from submits, pulls and lookups so that the next request for it goes straight
// to its pair (DESIGN.md §4). Bounded by interaction-cache-size; when full the oldest entry is
// evicted first. Owned by one worker loop; not thread-safe.
#pragma once

#include <cstdint>
#include <list>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "proxy/route/routing_table.h"

namespace ix::proxy {

class InteractionCache {
 public:
  explicit InteractionCache(size_t capacity) : capacity_(capacity) {}

  std::optional<PairIndex> find(std::string_view interaction_id);
  void remember(const std::string& interaction_id, PairIndex pair);
  void forget(std::string_view interaction_id);
  // Forgets every entry of these pairs (a reload removed them); returns how many.
  size_t forget_pairs(const PairSet& pairs);

  size_t size() const { return by_id_.size(); }
  size_t capacity() const { return capacity_; }
  uint64_t hits() const { return hits_; }
  uint64_t misses() const { return misses_; }

 private:
  struct Entry {
    PairIndex pair;
    std::list<std::string>::iterator age;
  };
  size_t capacity_;
  std::list<std::string> oldest_first_;
  // Looked up by string_view (the ID in the request's buffer) without a copy.
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view id) const { return std::hash<std::string_view>{}(id); }
  };
  std::unordered_map<std::string, Entry, Hash, std::equal_to<>> by_id_;
  uint64_t hits_ = 0, misses_ = 0;
};

}  // namespace ix::proxy
