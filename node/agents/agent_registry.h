// AgentRegistry: the agents logged in on this node, their places, media, readiness and
// do-not-disturb, and which client session (connection + client_id) speaks for each.
//
// Agent state lives in memory only: after a failover the proxy logs its agents in again on the
// new primary (DESIGN.md §7), and a desktop connected straight to a node logs in again when it
// reconnects. Owned by the node's loop thread; no I/O.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "protocol/wire/ixcluster_generated.h"

namespace ix::node {

// Who speaks for an agent: a connection (opaque) and the logical client on it.
struct AgentOwner {
  const void* session = nullptr;
  uint64_t client_id = 0;
  bool operator==(const AgentOwner&) const = default;
};

struct MediaStatus {
  int capacity = 1;
  bool ready = false;
  std::unique_ptr<proto::KvListT> reason;
};

struct AgentState {
  std::string tenant;
  std::string agent_id;
  std::string place_id;
  bool do_not_disturb = false;
  std::map<std::string, MediaStatus> media;
  std::vector<AgentOwner> owners;  // more than one only with allow-multiple-agent-connections = true
};

class AgentRegistry {
 public:
  AgentState* find(const std::string& agent_id);
  AgentState& login(std::string tenant, std::string agent_id, std::string place_id, AgentOwner owner);
  void logout(const std::string& agent_id);
  size_t logged_in() const { return agents_.size(); }
  // Agents one session speaks for (to log them out when it disconnects).
  std::vector<std::string> owned_by(const void* session) const;
  // Every agent `from` speaks for is spoken for by `to` instead, with the same client_ids (a
  // proxy's held session handed to its reconnection, and back). Returns how many agents moved.
  size_t move_owner(const void* from, const void* to);
  template <class F>
  void for_each(F&& f) const {
    for (const auto& [id, agent] : agents_) f(*agent);
  }

 private:
  std::map<std::string, std::unique_ptr<AgentState>> agents_;
};

}  // namespace ix::node
