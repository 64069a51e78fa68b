#include "proxy/reporting/agent_event_dedupe.h"

#include "protocol/wire/messages.h"

namespace ix::proxy {

namespace {

using wire::str;

}  // namespace

std::optional<std::string> agent_event_key(const proto::Envelope& e) {
  using M = proto::Message;
  std::string media;
  const proto::ReportingHeader* header = nullptr;
  const flatbuffers::String* agent = nullptr;
  switch (e.body_type()) {
    case M::EventAgentLogin: header = e.body_as_EventAgentLogin()->header(); agent = e.body_as_EventAgentLogin()->agent_id(); break;
    case M::EventAgentLogout: header = e.body_as_EventAgentLogout()->header(); agent = e.body_as_EventAgentLogout()->agent_id(); break;
    case M::EventAgentReady:
      header = e.body_as_EventAgentReady()->header();
      agent = e.body_as_EventAgentReady()->agent_id();
      media = str(e.body_as_EventAgentReady()->media_type());
      break;
    case M::EventAgentNotReady:
      header = e.body_as_EventAgentNotReady()->header();
      agent = e.body_as_EventAgentNotReady()->agent_id();
      media = str(e.body_as_EventAgentNotReady()->media_type());
      break;
    case M::EventMediaAdded:
      header = e.body_as_EventMediaAdded()->header();
      agent = e.body_as_EventMediaAdded()->agent_id();
      if (const proto::MediaCapacity* m = e.body_as_EventMediaAdded()->media()) media = str(m->media_type());
      break;
    case M::EventMediaRemoved:
      header = e.body_as_EventMediaRemoved()->header();
      agent = e.body_as_EventMediaRemoved()->agent_id();
      media = str(e.body_as_EventMediaRemoved()->media_type());
      break;
    case M::EventDoNotDisturbOn: header = e.body_as_EventDoNotDisturbOn()->header(); agent = e.body_as_EventDoNotDisturbOn()->agent_id(); break;
    case M::EventDoNotDisturbOff: header = e.body_as_EventDoNotDisturbOff()->header(); agent = e.body_as_EventDoNotDisturbOff()->agent_id(); break;
    case M::EventAgentReasonChanged:
      header = e.body_as_EventAgentReasonChanged()->header();
      agent = e.body_as_EventAgentReasonChanged()->agent_id();
      media = str(e.body_as_EventAgentReasonChanged()->media_type());
      break;
    default:
      return std::nullopt;
  }
  return std::string(proto::EnumNameMessage(e.body_type())) + "|" + (header ? str(header->tenant_id()) : "") + "|" + str(agent) +
         "|" + media;
}

bool AgentEventDedupe::pass(const std::string& key, size_t node, size_t expected_nodes, int64_t now_us) {
  expire(now_us);
  auto it = pending_.find(key);
  if (it == pending_.end() || it->second.nodes.contains(node)) {
    // A new change (or the same node reporting the same change again: a new change too).
    if (expected_nodes > 1) pending_[key] = Seen{{node}, expected_nodes, now_us};
    return true;
  }
  it->second.nodes.insert(node);
  if (it->second.nodes.size() >= it->second.expected) pending_.erase(it);
  return false;
}

void AgentEventDedupe::expire(int64_t now_us) {
  for (auto it = pending_.begin(); it != pending_.end();) {
    it = now_us - it->second.first_us > window_us_ ? pending_.erase(it) : std::next(it);
  }
}

}  // namespace ix::proxy
