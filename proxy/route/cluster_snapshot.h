// Cluster snapshot IDs (DESIGN.md §5): a snapshot taken through the proxy is one snapshot per
// pair; the ID the client gets lists every part with its size, and the snapshot's order, so
// that any proxy — not only the one that took it — can page through it in that order across
// the parts (SnapshotCursor) or release it, without shared state:
//
//   "cs:p1-snap-3@120,p2-snap-9@80"                     (the default order)
//   "cs:p1-snap-3@120,p2-snap-9@80;priority%20desc"     (an order, percent-encoded)
//
// Each part's node snapshot ID carries its pair's tag, so the routing table finds the pair. Pure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ix::proxy {

struct SnapshotPart {
  std::string node_snapshot_id;
  uint32_t count = 0;
};

struct ClusterSnapshotId {
  std::vector<SnapshotPart> parts;
  std::string order;  // as given when it was taken; empty = the default order
};

std::string encode_cluster_snapshot(const ClusterSnapshotId& id);
// Nothing when the text is not a cluster snapshot ID.
std::optional<ClusterSnapshotId> decode_cluster_snapshot(const std::string& id);

// A piece of one part: positions [start, start + count) of part `part`.
struct PartRange {
  size_t part = 0;
  uint32_t start = 0;
  uint32_t count = 0;
};

}  // namespace ix::proxy
