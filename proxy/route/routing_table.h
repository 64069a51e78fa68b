// RoutingTable: what the proxy needs from the cluster configuration to route (DESIGN.md §5) —
// the node pairs in configuration order with their tenants, media types, submit flag and tag,
// and which media types are enabled. Pairs are referred to by index everywhere in the proxy.
// Immutable once built; a reload builds a new one. Pure, no I/O.
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
  explicit RoutingTable(std::shared_ptr<const config::ClusterConfig> config);

  size_t pair_count() const { return config_->node_pairs.size(); }
  const config::NodePair& pair(PairIndex i) const { return config_->node_pairs[i]; }
  const std::string& pair_id(PairIndex i) const { return pair(i).id; }
  std::optional<PairIndex> index_of(std::string_view pair_id) const;
  const config::ClusterConfig& config() const { return *config_; }

  bool tenant_known(const std::string& tenant) const;
  // The pairs serving a tenant (agent fan-out, pulls, lookups of interactions of that tenant).
  PairSet pairs_for_tenant(const std::string& tenant) const;
  // Submission candidates: the tenant is served, the media type is listed (or the list is empty),
  // submit is enabled. Empty when the media type is disabled.
  PairSet submit_candidates(const std::string& tenant, const std::string& media) const;
  bool media_enabled(const std::string& media) const;
  // The pair whose tag a cluster-generated ID (or snapshot ID) carries.
  std::optional<PairIndex> owner_by_tag(std::string_view interaction_id) const;
  // Every pair: the candidates for an interaction ID the proxy cannot place.
  PairSet all_pairs() const;

 private:
  std::shared_ptr<const config::ClusterConfig> config_;
};

// "pair-1, pair-2": pair IDs for error texts.
std::string pair_names(const RoutingTable& table, const PairSet& pairs);

}  // namespace ix::proxy
