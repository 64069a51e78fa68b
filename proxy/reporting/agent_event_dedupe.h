// AgentEventDedupe: one logical agent change, one reporting event (DESIGN.md §7).
//
// The proxy carries an agent's login, logout, readiness, do-not-disturb, media and reason
// changes to every pair serving its tenant, so each pair reports the same change. The merged
// stream passes the first of these copies and drops the others: a copy is an agent event with
// the same key (event type, tenant, agent, media) from another node, while fewer than all the
// expected nodes have reported it and within the window. Pure (time is passed in).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "protocol/wire/ixcluster_generated.h"

namespace ix::proxy {

// "EventAgentReady|101|a1|chat" for an agent event; nothing for any other message.
std::optional<std::string> agent_event_key(const proto::Envelope& envelope);

class AgentEventDedupe {
 public:
  explicit AgentEventDedupe(int64_t window_us) : window_us_(window_us) {}

  // Whether this copy goes out. expected_nodes: how many nodes report the change (the pairs
  // serving the tenant).
  bool pass(const std::string& key, size_t node, size_t expected_nodes, int64_t now_us);
  size_t pending() const { return pending_.size(); }

 private:
  struct Seen {
    std::set<size_t> nodes;
    size_t expected = 0;
    int64_t first_us = 0;
  };
  void expire(int64_t now_us);

  int64_t window_us_;
  std::map<std::string, Seen> pending_;
};

}  // namespace ix::proxy
