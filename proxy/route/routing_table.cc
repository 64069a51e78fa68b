#include "proxy/route/routing_table.h"

#include <algorithm>

#include "protocol/wire/interaction_id.h"

namespace ix::proxy {

RoutingTable::RoutingTable(std::shared_ptr<const config::ClusterConfig> config) : config_(std::move(config)) {}

std::optional<PairIndex> RoutingTable::index_of(std::string_view pair_id) const {
  for (PairIndex i = 0; i < pair_count(); ++i) {
    if (pair(i).id == pair_id) return i;
  }
  return std::nullopt;
}

bool RoutingTable::tenant_known(const std::string& tenant) const {
  return std::any_of(config_->tenants.begin(), config_->tenants.end(), [&](const config::Tenant& t) { return t.id == tenant; });
}

PairSet RoutingTable::pairs_for_tenant(const std::string& tenant) const {
  PairSet out;
  for (PairIndex i = 0; i < pair_count(); ++i) {
    if (pair(i).serves_tenant(tenant)) out.push_back(i);
  }
  return out;
}

PairSet RoutingTable::submit_candidates(const std::string& tenant, const std::string& media) const {
  PairSet out;
  if (!media_enabled(media)) return out;
  for (PairIndex i = 0; i < pair_count(); ++i) {
    const config::NodePair& p = pair(i);
    if (p.enable_submit && p.serves_tenant(tenant) && p.serves_media(media)) out.push_back(i);
  }
  return out;
}

bool RoutingTable::media_enabled(const std::string& media) const {
  const config::MediaType* m = config_->media_type(media);
  return m != nullptr && m->enabled;
}

std::optional<PairIndex> RoutingTable::owner_by_tag(std::string_view interaction_id) const {
  std::optional<std::string_view> tag = wire::cluster_id_tag(interaction_id);
  if (!tag) {
    // Snapshot IDs carry the tag too: "<tag>-snap-<n>".
    const size_t dash = interaction_id.find("-snap-");
    if (dash == std::string_view::npos) return std::nullopt;
    tag = interaction_id.substr(0, dash);
  }
  for (PairIndex i = 0; i < pair_count(); ++i) {
    if (pair(i).tag == *tag) return i;
  }
  return std::nullopt;
}

PairSet RoutingTable::all_pairs() const {
  PairSet out(pair_count());
  for (PairIndex i = 0; i < out.size(); ++i) out[i] = i;
  return out;
}

std::string pair_names(const RoutingTable& table, const PairSet& pairs) {
  std::string out;
  for (PairIndex i : pairs) {
    if (!out.empty()) out += ", ";
    out += table.pair_id(i);
  }
  return out;
}

}  // namespace ix::proxy
