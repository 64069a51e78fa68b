#include "proxy/server/client_id_map.h"

namespace ix::proxy {

uint64_t ClientIdMap::upstream(uint64_t session_id, uint64_t client_id) {
  auto [it, inserted] = upstream_.try_emplace({session_id, client_id}, 0);
  if (inserted) {
    it->second = ++next_;
    downstream_.emplace(it->second, Downstream{session_id, client_id});
  }
  return it->second;
}

std::optional<ClientIdMap::Downstream> ClientIdMap::downstream(uint64_t upstream_client) const {
  auto it = downstream_.find(upstream_client);
  if (it == downstream_.end()) return std::nullopt;
  return it->second;
}

void ClientIdMap::forget_session(uint64_t session_id) {
  for (auto it = upstream_.lower_bound({session_id, 0}); it != upstream_.end() && it->first.first == session_id;) {
    downstream_.erase(it->second);
    it = upstream_.erase(it);
  }
}

}  // namespace ix::proxy
