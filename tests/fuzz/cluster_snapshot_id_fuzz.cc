// libFuzzer target: the proxy's parser of cluster snapshot IDs, which any client can send in a
// page or release request. Whatever it accepts must encode back to an ID with the same parts and
// order, and a cursor over it must only ask for positions inside the parts.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "proxy/route/cluster_snapshot.h"
#include "proxy/route/snapshot_cursor.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto id = ix::proxy::decode_cluster_snapshot(text);
  if (!id) return 0;
  // Two spellings of one ID (e.g. "@007", "%2c") are fine as long as they mean the same.
  auto again = ix::proxy::decode_cluster_snapshot(ix::proxy::encode_cluster_snapshot(*id));
  if (!again || again->parts.size() != id->parts.size() || again->order != id->order) std::abort();
  for (size_t i = 0; i < id->parts.size(); ++i) {
    if (again->parts[i].count != id->parts[i].count || again->parts[i].node_snapshot_id != id->parts[i].node_snapshot_id) std::abort();
  }
  auto order = ix::query::Order::parse(id->order);
  if (!order) return 0;
  ix::proxy::SnapshotCursor cursor(id->parts, *order);
  for (int round = 0; round < 3 && !cursor.finished(); ++round) {
    for (const auto& range : cursor.wanted(1000)) {
      if (range.part >= id->parts.size()) std::abort();
      if (static_cast<uint64_t>(range.start) + range.count > id->parts[range.part].count || range.count == 0) std::abort();
      cursor.fill(range.part, range.count, {});
    }
    cursor.take(10);
  }
  return 0;
}
