#include "proxy/route/snapshot_cursor.h"

namespace ix::proxy {

SnapshotCursor::SnapshotCursor(std::vector<SnapshotPart> parts, query::Order order)
    : parts_(std::move(parts)), order_(std::move(order)), state_(parts_.size()) {}

std::vector<PartRange> SnapshotCursor::wanted(uint32_t chunk) const {
  std::vector<PartRange> out;
  for (size_t i = 0; i < parts_.size(); ++i) {
    if (starved(i)) out.push_back({i, state_[i].read, std::min(chunk, parts_[i].count - state_[i].read)});
  }
  return out;
}

void SnapshotCursor::fill(size_t part, uint32_t count, InteractionList live) {
  Part& p = state_[part];
  p.read = std::min(parts_[part].count, p.read + count);
  for (auto& info : live) p.buffer.push_back(std::move(info));
}

InteractionList SnapshotCursor::take(size_t n) {
  InteractionList out;
  while (out.size() < n) {
    // The smallest head, ties to the part listed first; none while a part is starved, since
    // its next interaction might come first.
    size_t best = parts_.size();
    for (size_t i = 0; i < parts_.size(); ++i) {
      if (starved(i)) return out;
      if (state_[i].buffer.empty()) continue;
      if (best == parts_.size() || order_.less(*state_[i].buffer.front(), *state_[best].buffer.front())) best = i;
    }
    if (best == parts_.size()) return out;  // every part read to its end
    out.push_back(std::move(state_[best].buffer.front()));
    state_[best].buffer.pop_front();
    ++position_;
  }
  return out;
}

bool SnapshotCursor::finished() const {
  for (size_t i = 0; i < parts_.size(); ++i) {
    if (starved(i) || !state_[i].buffer.empty()) return false;
  }
  return true;
}

}  // namespace ix::proxy
