#include "node/reporting/reporting_state.h"

#include <map>
#include <utility>

namespace ix::node {

proto::EventReportingStateT reporting_state(const InteractionRegistry& interactions, const AgentRegistry& agents,
                                            const std::string& node_id, uint64_t seq,
                                            const std::set<std::string>& tenants, const query::Condition& condition) {
  auto wanted = [&](const std::string& tenant) { return tenants.empty() || tenants.count(tenant) > 0; };
  proto::EventReportingStateT state;
  state.node_id = node_id;
  state.seq = seq;
  // Interactions in hand per (agent, media): the handling agent and conference members of every
  // interaction being delivered or handled.
  std::map<std::pair<std::string, std::string>, int> in_hand;
  interactions.for_each([&](const Interaction& i) {
    const bool open = i.state == proto::InteractionState::Queued || i.state == proto::InteractionState::Delivering ||
                      i.state == proto::InteractionState::Handling;
    if (!open) return;
    if (i.state != proto::InteractionState::Queued) {
      if (!i.agent_id.empty()) ++in_hand[{i.agent_id, i.media_type}];
      for (const std::string& member : i.conference) ++in_hand[{member, i.media_type}];
    }
    if (wanted(i.tenant_id) && condition.matches(i)) state.interactions.push_back(std::make_unique<Interaction>(i));
  });
  agents.for_each([&](const AgentState& a) {
    if (!wanted(a.tenant)) return;
    auto status = std::make_unique<proto::EventAgentStatusT>();
    status->tenant_id = a.tenant;
    status->agent_id = a.agent_id;
    status->place_id = a.place_id;
    status->logged_in = true;
    status->do_not_disturb = a.do_not_disturb;
    for (const auto& [media, m] : a.media) {
      auto ms = std::make_unique<proto::MediaStateT>();
      ms->media_type = media;
      ms->capacity = m.capacity;
      ms->ready = m.ready;
      auto it = in_hand.find({a.agent_id, media});
      ms->interactions = it == in_hand.end() ? 0 : it->second;
      status->media.push_back(std::move(ms));
    }
    state.agents.push_back(std::move(status));
  });
  return state;
}

}  // namespace ix::node
