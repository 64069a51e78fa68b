#include "proxy/route/cluster_snapshot.h"

#include <cctype>
#include <charconv>
#include <string_view>

namespace ix::proxy {

namespace {

constexpr std::string_view kPrefix = "cs:";
constexpr char kHex[] = "0123456789ABCDEF";

// Everything but letters, digits and a few safe marks is %XX, so the order can never be
// mistaken for the part list (',', '@', ';').
std::string percent_encode(std::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '.' || c == '_' || c == '-') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::optional<std::string> percent_decode(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    unsigned value = 0;
    if (i + 2 >= text.size()) return std::nullopt;
    auto [end, ec] = std::from_chars(text.data() + i + 1, text.data() + i + 3, value, 16);
    if (ec != std::errc() || end != text.data() + i + 3) return std::nullopt;
    out += static_cast<char>(value);
    i += 2;
  }
  return out;
}

}  // namespace

std::string encode_cluster_snapshot(const ClusterSnapshotId& id) {
  std::string out(kPrefix);
  for (size_t i = 0; i < id.parts.size(); ++i) {
    if (i) out += ',';
    out += id.parts[i].node_snapshot_id + '@' + std::to_string(id.parts[i].count);
  }
  if (!id.order.empty()) out += ';' + percent_encode(id.order);
  return out;
}

std::optional<ClusterSnapshotId> decode_cluster_snapshot(const std::string& text) {
  if (text.rfind(kPrefix, 0) != 0) return std::nullopt;
  ClusterSnapshotId id;
  std::string_view rest = std::string_view(text).substr(kPrefix.size());
  if (const size_t semicolon = rest.find(';'); semicolon != std::string_view::npos) {
    std::optional<std::string> order = percent_decode(rest.substr(semicolon + 1));
    if (!order || order->empty()) return std::nullopt;
    id.order = std::move(*order);
    rest = rest.substr(0, semicolon);
  }
  while (!rest.empty()) {
    const size_t comma = rest.find(',');
    const std::string_view item = rest.substr(0, comma);
    const size_t at = item.rfind('@');
    if (at == std::string_view::npos || at == 0) return std::nullopt;
    SnapshotPart part{std::string(item.substr(0, at)), 0};
    const std::string_view digits = item.substr(at + 1);
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), part.count);
    if (ec != std::errc() || end != digits.data() + digits.size() || digits.empty()) return std::nullopt;
    id.parts.push_back(std::move(part));
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
    if (rest.empty()) return std::nullopt;  // trailing comma
  }
  if (id.parts.empty()) return std::nullopt;
  return id;
}

}  // namespace ix::proxy
