// InFlightTable: a link's requests in flight, by the ref each was sent with. The link chooses the
// refs, so a ref names its request's slot (its low 32 bits) and that slot's use (the high bits,
// from a 32-bit counter): sending and answering a request neither hashes nor allocates once the
// table has grown to the link's peak, and a late reply to an earlier use of a slot matches
// nothing (unless 2^32 refs were handed out meanwhile). Refs are never 0. Single-threaded.
#pragma once

#include <cassert>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

namespace ix::proxy {

template <class T>
class InFlightTable {
 public:
  // Keeps value under a new ref and returns the ref.
  uint64_t add(T value) {
    uint32_t slot;
    if (free_.empty()) {
      assert(slots_.size() < kNoSlot);
      slot = static_cast<uint32_t>(slots_.size());
      slots_.emplace_back();
    } else {
      slot = free_.back();
      free_.pop_back();
    }
    const uint64_t ref = next_ref(slot);
    slots_[slot].ref = ref;
    slots_[slot].value = std::move(value);
    ++size_;
    return ref;
  }

  // A ref that names no slot, for a request the owner tracks itself (a registration, a probe):
  // it never matches anything in the table.
  uint64_t unslotted_ref() { return next_ref(kNoSlot); }

  T* find(uint64_t ref) {
    const uint64_t slot = ref & kNoSlot;
    return ref != 0 && slot < slots_.size() && slots_[slot].ref == ref ? &slots_[slot].value : nullptr;
  }

  // Removes ref's value and returns it; nothing when ref is not in the table.
  std::optional<T> take(uint64_t ref) {
    T* value = find(ref);
    if (!value) return std::nullopt;
    const auto slot = static_cast<uint32_t>(ref & kNoSlot);
    std::optional<T> out(std::move(*value));
    slots_[slot] = Slot{};
    free_.push_back(slot);
    --size_;
    return out;
  }

  // Empties the table, returning every (ref, value) it held (in no particular order).
  std::vector<std::pair<uint64_t, T>> take_all() {
    std::vector<std::pair<uint64_t, T>> out;
    out.reserve(size_);
    for (Slot& s : slots_) {
      if (s.ref != 0) out.emplace_back(s.ref, std::move(s.value));
    }
    slots_.clear();
    free_.clear();
    size_ = 0;
    return out;
  }

  size_t size() const { return size_; }

 private:
  static constexpr uint32_t kNoSlot = UINT32_MAX;
  struct Slot {
    uint64_t ref = 0;  // 0: free
    T value{};
  };

  uint64_t next_ref(uint32_t slot) {
    if (++uses_ == 0) ++uses_;  // after 2^32 uses: a ref is never 0
    return (static_cast<uint64_t>(uses_) << 32) | slot;
  }

  std::vector<Slot> slots_;
  std::vector<uint32_t> free_;  // slots to reuse, most recently freed last
  size_t size_ = 0;
  uint32_t uses_ = 0;
};

}  // namespace ix::proxy
