// RoutingTable: what the proxy needs from the cluster configuration to route (DESIGN.md §5) —
// the node pairs with their tenants, media types, submit flag and tag, and which media types
// are enabled. Immutable once built; a reload builds a new one from the previous. Pure, no I/O.
//
// Pairs are referred to by PairIndex everywhere in the proxy, and a PairIndex is a stable slot:
// it names the same pair ID for the life of the process. A reload keeps the slot of every pair
// that stays, gives a pair it adds the next unused slot (a pair that comes back gets its old
// one) and leaves the slot of a pair it removes empty, so that everything kept per pair (links,
// the interaction cache, reporting positions, requests in flight with a table of their own)
// goes on meaning the pair it meant. Vectors indexed by PairIndex have slot_count() entries;
// a slot whose pair was removed is not has(): routing never picks it, and its ID stays known
// (pair_id) for the texts of the requests that were in flight on it.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cluster-config/model.h"

namespace ix::proxy {

using PairIndex = size_t;
using PairSet = std::vector<PairIndex>;

class RoutingTable {
 public:
  // previous: the table this one replaces (a reload), whose slots it keeps; null at start-up.
  explicit RoutingTable(std::shared_ptr<const config::ClusterConfig> config, const RoutingTable* previous = nullptr);

  // One more than the highest slot any table of this process has used.
  size_t slot_count() const { return slot_ids_.size(); }
  // The slot holds a pair of this configuration.
  bool has(PairIndex i) const { return i < position_.size() && position_[i] != kNone; }
  // Only for slots that has().
  const config::NodePair& pair(PairIndex i) const { return config_->node_pairs[position_[i]]; }
  // Any slot below slot_count(), also one whose pair a reload removed.
  const std::string& pair_id(PairIndex i) const { return slot_ids_[i]; }
  // The slot of a pair of this configuration.
  std::optional<PairIndex> index_of(std::string_view pair_id) const;
  // The slot of any pair this process has known, also one a reload removed.
  std::optional<PairIndex> slot_of(std::string_view pair_id) const;
  const config::ClusterConfig& config() const { return *config_; }
  const std::shared_ptr<const config::ClusterConfig>& config_ptr() const { return config_; }

  bool tenant_known(const std::string& tenant) const;
  // The pairs serving a tenant (agent fan-out, pulls, lookups of interactions of that tenant).
  PairSet pairs_for_tenant(const std::string& tenant) const;
  // Submission candidates: the tenant is served, the media type is listed (or the list is empty),
  // submit is enabled. Empty when the media type is disabled.
  PairSet submit_candidates(const std::string& tenant, const std::string& media) const;
  bool media_enabled(const std::string& media) const;
  // The pair whose tag a cluster-generated ID (or snapshot ID) carries.
  std::optional<PairIndex> owner_by_tag(std::string_view interaction_id) const;
  // Every pair of this configuration, in configuration order.
  const PairSet& all_pairs() const { return order_; }

 private:
  static constexpr size_t kNone = static_cast<size_t>(-1);
  std::shared_ptr<const config::ClusterConfig> config_;
  std::vector<std::string> slot_ids_;  // by slot: the pair ID it stands for (kept after a removal)
  std::vector<size_t> position_;       // by slot: index in config_->node_pairs, or kNone
  PairSet order_;                      // the configured pairs' slots in configuration order
};

// What a reload changed in the pairs: the slots whose pair is gone, and the slots of pairs that
// are new (or back).
struct PairChanges {
  PairSet removed;
  PairSet added;
  bool empty() const { return removed.empty() && added.empty(); }
};
PairChanges pair_changes(const RoutingTable& before, const RoutingTable& after);

// "pair-1, pair-2": pair IDs for error texts.
std::string pair_names(const RoutingTable& table, const PairSet& pairs);

}  // namespace ix::proxy
