#include "node/agents/agent_registry.h"

#include <algorithm>

namespace ix::node {

AgentState* AgentRegistry::find(const std::string& agent_id) {
  auto it = agents_.find(agent_id);
  return it == agents_.end() ? nullptr : it->second.get();
}

AgentState& AgentRegistry::login(std::string tenant, std::string agent_id, std::string place_id, AgentOwner owner) {
  auto& slot = agents_[agent_id];
  if (!slot) {
    slot = std::make_unique<AgentState>();
    slot->tenant = std::move(tenant);
    slot->agent_id = agent_id;
  }
  slot->place_id = std::move(place_id);
  if (std::find(slot->owners.begin(), slot->owners.end(), owner) == slot->owners.end()) slot->owners.push_back(owner);
  return *slot;
}

void AgentRegistry::logout(const std::string& agent_id) { agents_.erase(agent_id); }

std::vector<std::string> AgentRegistry::owned_by(const void* session) const {
  std::vector<std::string> out;
  for (const auto& [id, agent] : agents_) {
    if (std::any_of(agent->owners.begin(), agent->owners.end(), [&](const AgentOwner& o) { return o.session == session; })) {
      out.push_back(id);
    }
  }
  return out;
}

size_t AgentRegistry::move_owner(const void* from, const void* to) {
  size_t moved = 0;
  for (auto& [id, agent] : agents_) {
    bool any = false;
    for (AgentOwner& owner : agent->owners) {
      if (owner.session != from) continue;
      owner.session = to;
      any = true;
    }
    moved += any ? 1 : 0;
  }
  return moved;
}

}  // namespace ix::node
