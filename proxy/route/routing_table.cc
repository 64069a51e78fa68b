#include "proxy/route/routing_table.h"

#include <algorithm>

#include "protocol/wire/interaction_id.h"

namespace ix::proxy {

RoutingTable::RoutingTable(std::shared_ptr<const config::ClusterConfig> config, const RoutingTable* previous)
    : config_(std::move(config)) {
  if (previous) slot_ids_ = previous->slot_ids_;
  position_.assign(slot_ids_.size(), kNone);
  for (size_t p = 0; p < config_->node_pairs.size(); ++p) {
    const std::string& id = config_->node_pairs[p].id;
    auto known = std::find(slot_ids_.begin(), slot_ids_.end(), id);
    const PairIndex slot = static_cast<PairIndex>(known - slot_ids_.begin());
    if (known == slot_ids_.end()) {
      slot_ids_.push_back(id);
      position_.push_back(kNone);
    }
    position_[slot] = p;
    order_.push_back(slot);
  }
}

std::optional<PairIndex> RoutingTable::index_of(std::string_view pair_id) const {
  for (PairIndex i : order_) {
    if (slot_ids_[i] == pair_id) return i;
  }
  return std::nullopt;
}

std::optional<PairIndex> RoutingTable::slot_of(std::string_view pair_id) const {
  auto it = std::find(slot_ids_.begin(), slot_ids_.end(), pair_id);
  if (it == slot_ids_.end()) return std::nullopt;
  return static_cast<PairIndex>(it - slot_ids_.begin());
}

bool RoutingTable::tenant_known(const std::string& tenant) const {
  return std::any_of(config_->tenants.begin(), config_->tenants.end(), [&](const config::Tenant& t) { return t.id == tenant; });
}

PairSet RoutingTable::pairs_for_tenant(const std::string& tenant) const {
  PairSet out;
  for (PairIndex i : order_) {
    if (pair(i).serves_tenant(tenant)) out.push_back(i);
  }
  return out;
}

PairSet RoutingTable::submit_candidates(const std::string& tenant, const std::string& media) const {
  PairSet out;
  if (!media_enabled(media)) return out;
  for (PairIndex i : order_) {
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
  for (PairIndex i : order_) {
    if (pair(i).tag == *tag) return i;
  }
  return std::nullopt;
}

PairChanges pair_changes(const RoutingTable& before, const RoutingTable& after) {
  PairChanges changes;
  for (PairIndex i : before.all_pairs()) {
    if (!after.has(i)) changes.removed.push_back(i);
  }
  for (PairIndex i : after.all_pairs()) {
    if (!before.has(i)) changes.added.push_back(i);
  }
  return changes;
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
