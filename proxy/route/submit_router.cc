#include "proxy/route/submit_router.h"

namespace ix::proxy {

Result<PairIndex> SubmitRouter::choose(const RoutingTable& table, const std::string& tenant, const std::string& media,
                                       const std::vector<bool>& reachable) {
  const PairSet candidates = table.submit_candidates(tenant, media);
  if (candidates.empty()) {
    std::string why = !table.media_enabled(media)
                          ? "media type \"" + media + "\" is " + (table.config().media_type(media) ? "disabled" : "not configured")
                          : "no node pair accepts submissions of media \"" + media + "\" for tenant " + tenant;
    return wire::make_error(proto::ErrorCode::ClusterNoServerForMedia, why);
  }
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
