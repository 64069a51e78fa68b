// The node's answer to RequestReportingState: its open interactions (queued, being delivered or
// handled) that meet a condition and belong to the asked tenants, and its logged-in agents with
// how many interactions each has in hand per media — as the node's memory holds them after its
// last assigned reporting seq. A statistics engine seeds itself from it and follows the stream
// from that seq on. Pure; runs on the node's loop thread.
#pragma once

#include <cstdint>
#include <set>
#include <string>

#include "node/agents/agent_registry.h"
#include "node/model/interaction_registry.h"
#include "protocol/query/condition.h"

namespace ix::node {

proto::EventReportingStateT reporting_state(const InteractionRegistry& interactions, const AgentRegistry& agents,
                                            const std::string& node_id, uint64_t seq,
                                            const std::set<std::string>& tenants, const query::Condition& condition);

}  // namespace ix::node
