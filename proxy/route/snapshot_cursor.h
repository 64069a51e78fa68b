// SnapshotCursor: a cluster snapshot read in the snapshot's order across its parts, as one
// server would return it — a k-way merge over bounded per-part buffers (proxy_anchors.md,
// Vitess). Each part is already in the snapshot's order on its node; the cursor asks for the
// next chunk of a part only when the merge cannot go on without it, so reading page after page
// costs one chunk per part per page, not a re-read from the start.
//
// Positions count the interactions the cursor returned: an interaction that ended before its
// chunk was read is left out (as the node's own pages leave it out) and takes no position.
// Pure: the worker fetches what wanted() names and hands it to fill().
#pragma once

#include <deque>
#include <memory>
#include <vector>

#include "protocol/query/condition.h"
#include "proxy/route/cluster_snapshot.h"
#include "proxy/route/ordered_merge.h"

namespace ix::proxy {

class SnapshotCursor {
 public:
  SnapshotCursor(std::vector<SnapshotPart> parts, query::Order order);

  // The merged position the next take() starts at.
  uint64_t position() const { return position_; }
  // The chunks the merge needs before it can go on (empty: take() can make progress, or every
  // part is read to its end).
  std::vector<PartRange> wanted(uint32_t chunk) const;
  // A chunk of part `part` arrived: the part's positions [from, from + count) were read and
  // `live` holds those still open, in order.
  void fill(size_t part, uint32_t count, InteractionList live);
  // Up to n interactions in the merged order, as far as the buffers allow (fewer when a part
  // must be read first, see wanted()).
  InteractionList take(size_t n);
  bool finished() const;

  const std::vector<SnapshotPart>& parts() const { return parts_; }

 private:
  struct Part {
    uint32_t read = 0;  // positions of the part read so far
    std::deque<std::unique_ptr<proto::InteractionInfoT>> buffer;
  };
  // Whether part i may still hold an interaction that sorts before the others' heads.
  bool starved(size_t i) const { return state_[i].buffer.empty() && state_[i].read < parts_[i].count; }

  std::vector<SnapshotPart> parts_;
  query::Order order_;
  std::vector<Part> state_;
  uint64_t position_ = 0;
};

}  // namespace ix::proxy
