#include "proxy/route/cluster_snapshot.h"

#include <algorithm>
#include <charconv>

namespace ix::proxy {

namespace {
constexpr std::string_view kPrefix = "cs:";
}

std::string encode_cluster_snapshot(const std::vector<SnapshotPart>& parts) {
  std::string out(kPrefix);
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i) out += ',';
    out += parts[i].node_snapshot_id + '@' + std::to_string(parts[i].count);
  }
  return out;
}

std::optional<std::vector<SnapshotPart>> decode_cluster_snapshot(const std::string& id) {
  if (id.rfind(kPrefix, 0) != 0) return std::nullopt;
  std::vector<SnapshotPart> parts;
  std::string_view rest = std::string_view(id).substr(kPrefix.size());
  while (!rest.empty()) {
    const size_t comma = rest.find(',');
    const std::string_view item = rest.substr(0, comma);
    const size_t at = item.rfind('@');
    if (at == std::string_view::npos || at == 0) return std::nullopt;
    SnapshotPart part{std::string(item.substr(0, at)), 0};
    const std::string_view digits = item.substr(at + 1);
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), part.count);
    if (ec != std::errc() || end != digits.data() + digits.size() || digits.empty()) return std::nullopt;
    parts.push_back(std::move(part));
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
    if (rest.empty()) return std::nullopt;  // trailing comma
  }
  if (parts.empty()) return std::nullopt;
  return parts;
}

std::vector<PartRange> page_ranges(const std::vector<SnapshotPart>& parts, uint32_t start, uint32_t count) {
  std::vector<PartRange> out;
  uint64_t offset = 0;
  const uint64_t end = static_cast<uint64_t>(start) + count;
  for (size_t i = 0; i < parts.size(); ++i) {
    const uint64_t from = std::max<uint64_t>(start, offset), to = std::min<uint64_t>(end, offset + parts[i].count);
    if (from < to) out.push_back({i, static_cast<uint32_t>(from - offset), static_cast<uint32_t>(to - from)});
    offset += parts[i].count;
  }
  return out;
}

}  // namespace ix::proxy
