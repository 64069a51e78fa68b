// Interaction IDs (DESIGN.md §4). IDs the cluster generates are "<tag>-<16 hex digits>", where
// the tag names the node pair that owns the interaction; any proxy can route such an ID without
// a cache. Clients may supply their own IDs but not ones of this form. Pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ix::wire {

inline constexpr size_t kMaxTagLength = 8;

// The owning pair's tag when id has the cluster-generated form, else nothing.
inline std::optional<std::string_view> cluster_id_tag(std::string_view id) {
  const size_t dash = id.find('-');
  if (dash == std::string_view::npos || dash == 0 || dash > kMaxTagLength || id.size() != dash + 17) return std::nullopt;
  for (char c : id.substr(0, dash)) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return std::nullopt;
  }
  for (char c : id.substr(dash + 1)) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return std::nullopt;
  }
  return id.substr(0, dash);
}

inline std::string make_cluster_id(std::string_view tag, uint64_t counter) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string id(tag);
  id.push_back('-');
  for (int shift = 60; shift >= 0; shift -= 4) id.push_back(kDigits[(counter >> shift) & 0xf]);
  return id;
}

}  // namespace ix::wire
