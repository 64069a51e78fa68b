// libFuzzer target: the proxy's parser of cluster snapshot IDs, which any client can send in a
// page or release request. Whatever it accepts must encode back to the same text, and the page
// ranges computed over it must stay inside the parts and cover no more than was asked.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "proxy/route/cluster_snapshot.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string id(reinterpret_cast<const char*>(data), size);
  auto parts = ix::proxy::decode_cluster_snapshot(id);
  if (!parts) return 0;
  if (ix::proxy::encode_cluster_snapshot(*parts) != id) {
    // Two spellings of one ID (e.g. "@007") are fine as long as the parts are the same.
    auto again = ix::proxy::decode_cluster_snapshot(ix::proxy::encode_cluster_snapshot(*parts));
    if (!again || again->size() != parts->size()) std::abort();
  }
  uint32_t start = 0, count = 0;
  if (size >= 8) {
    std::memcpy(&start, data, 4);
    std::memcpy(&count, data + 4, 4);
  }
  uint64_t covered = 0;
  for (const auto& range : ix::proxy::page_ranges(*parts, start, count)) {
    if (range.part >= parts->size()) std::abort();
    if (static_cast<uint64_t>(range.start) + range.count > (*parts)[range.part].count) std::abort();
    covered += range.count;
  }
  if (covered > count) std::abort();
  return 0;
}
