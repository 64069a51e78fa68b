// ClientIdMap: the client IDs rewritten toward the nodes. Each (session, client_id) a client
// uses gets its own upstream client_id, the same on every node link of the worker, so agent
// sessions multiplexed on one desktop connection stay apart on the nodes and node-initiated
// events (invitations, revocations, workbin changes) find their way back to the session and
// client_id they belong to. Owned by a ProxyWorker; single-threaded on its loop.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <unordered_map>
#include <utility>

namespace ix::proxy {

class ClientIdMap {
 public:
  struct Downstream {
    uint64_t session_id = 0;
    uint64_t client_id = 0;
  };

  // The upstream client_id of (session, client_id), made on first use. Never 0 (the worker's
  // own requests use 0).
  uint64_t upstream(uint64_t session_id, uint64_t client_id);
  // Whose an upstream client_id is; nothing when its session is gone.
  std::optional<Downstream> downstream(uint64_t upstream_client) const;
  // The session closed: its client_ids are forgotten.
  void forget_session(uint64_t session_id);
  size_t size() const { return downstream_.size(); }

 private:
  std::map<std::pair<uint64_t, uint64_t>, uint64_t> upstream_;  // ordered: a session's entries are adjacent
  std::unordered_map<uint64_t, Downstream> downstream_;
  uint64_t next_ = 0;
};

}  // namespace ix::proxy
