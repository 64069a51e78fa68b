#include "proxy/route/submit_router.h"

#include <initializer_list>
#include <string_view>

namespace ix::proxy {

namespace {

Error no_pair_for(const RoutingTable& table, const std::string& tenant, const std::string& media) {
  std::string why = !table.media_enabled(media)
                        ? "media type \"" + media + "\" is " + (table.config().media_type(media) ? "disabled" : "not configured")
                        : "no node pair accepts submissions of media \"" + media + "\" for tenant " + tenant;
  return wire::make_error(proto::ErrorCode::ClusterNoServerForMedia, why);
}

// FNV-1a, 64 bits: the same on every proxy and every build (std::hash promises neither).
uint64_t fnv1a(std::initializer_list<std::string_view> parts) {
  uint64_t h = 14695981039346656037ULL;
  for (std::string_view part : parts) {
    for (unsigned char c : part) {
      h ^= c;
      h *= 1099511628211ULL;
    }
    h ^= 0xff;  // a separator no UTF-8 text contains
    h *= 1099511628211ULL;
  }
  return h;
}

}  // namespace

Result<PairIndex> SubmitRouter::choose_for_key(const RoutingTable& table, const std::string& tenant, const std::string& media,
                                               const std::string& request_id, const std::vector<bool>& reachable) const {
  const PairSet candidates = table.submit_candidates(tenant, media);
  if (candidates.empty()) return no_pair_for(table, tenant, media);
  PairIndex best = candidates.front();
  uint64_t best_score = 0;
  for (PairIndex pair : candidates) {
    const uint64_t score = fnv1a({tenant, request_id, table.pair_id(pair)});
    if (pair == candidates.front() || score > best_score) {
      best = pair;
      best_score = score;
    }
  }
  if (!reachable[best]) {
    return wire::make_error(proto::ErrorCode::ClusterLostConnection,
                            "node pair " + table.pair_id(best) + " has no reachable primary; a submit with a request_id goes " +
                                "only to the pair it hashes to (it may have applied it already): retry with the same request_id");
  }
  return best;
}

Result<PairIndex> SubmitRouter::choose(const RoutingTable& table, const std::string& tenant, const std::string& media,
                                       const std::vector<bool>& reachable) {
  const PairSet candidates = table.submit_candidates(tenant, media);
  if (candidates.empty()) return no_pair_for(table, tenant, media);
  for (size_t step = 0; step < candidates.size(); ++step) {
    const PairIndex pair = candidates[(next_ + step) % candidates.size()];
    if (reachable[pair]) {
      next_ = (next_ + step + 1) % candidates.size();
      return pair;
    }
  }
  return wire::make_error(proto::ErrorCode::ClusterLostConnection,
               "no primary reachable on the node pairs accepting media \"" + media + "\" for tenant " + tenant + ": " +
                   pair_names(table, candidates));
}

}  // namespace ix::proxy
