// Cluster snapshot IDs (DESIGN.md §5): a snapshot taken through the proxy is one snapshot per
// pair; the ID the client gets lists every part with its size, so that any proxy — not only the
// one that took it — can page through or release it without shared state:
//
//   "cs:p1-snap-3@120,p2-snap-9@80"
//
// Each part's node snapshot ID carries its pair's tag (the routing table finds the pair), and
// the sizes place a cluster-wide page position in the parts. Pure.
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

std::string encode_cluster_snapshot(const std::vector<SnapshotPart>& parts);
// Nothing when the text is not a cluster snapshot ID.
std::optional<std::vector<SnapshotPart>> decode_cluster_snapshot(const std::string& id);

// The piece of one part that a cluster page [start, start + count) covers.
struct PartRange {
  size_t part = 0;
  uint32_t start = 0;  // within the part
  uint32_t count = 0;
};
std::vector<PartRange> page_ranges(const std::vector<SnapshotPart>& parts, uint32_t start, uint32_t count);

}  // namespace ix::proxy
