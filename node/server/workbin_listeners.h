// WorkbinListeners: the clients subscribed to a workbin (RequestWorkbinSubscribe), each a
// session's logical client and one workbin (type and owner). notify() sends them
// EventWorkbinChanged when an interaction enters or leaves the workbin; a closed session's
// subscriptions are dropped. Owned by the ServiceContext; loop thread only.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "node/model/interaction_registry.h"
#include "node/server/client_session.h"

namespace ix::node {

class WorkbinListeners {
 public:
  // The session behind a key, if it is still open.
  using OpenSession = std::function<ClientSession*(const void* key)>;

  explicit WorkbinListeners(OpenSession open_session) : open_session_(std::move(open_session)) {}

  bool subscribed(const ClientSession& s, uint64_t client_id, const std::string& type, const std::string& owner) const {
    return std::any_of(listeners_.begin(), listeners_.end(),
                       [&](const Listener& l) { return l.is(s, client_id, type, owner); });
  }
  void subscribe(const ClientSession& s, uint64_t client_id, const std::string& type, const std::string& owner) {
    if (!subscribed(s, client_id, type, owner)) listeners_.push_back({&s, client_id, type, owner});
  }
  void unsubscribe(const ClientSession& s, uint64_t client_id, const std::string& type, const std::string& owner) {
    std::erase_if(listeners_, [&](const Listener& l) { return l.is(s, client_id, type, owner); });
  }
  void session_closed(const ClientSession& s) {
    std::erase_if(listeners_, [&](const Listener& l) { return l.session == &s; });
  }
  // The subscriptions of `from` are `to`'s (a proxy's held session handed to its reconnection,
  // and back).
  void move_session(const ClientSession& from, const ClientSession& to) {
    for (Listener& l : listeners_) {
      if (l.session == &from) l.session = &to;
    }
  }

  // The interaction entered (added) or left its workbin.
  void notify(const Interaction& interaction, bool added) const {
    for (const Listener& l : listeners_) {
      if (l.workbin_type != interaction.workbin_type || l.owner != interaction.workbin_owner) continue;
      ClientSession* session = open_session_(l.session);
      if (session == nullptr) continue;
      proto::EventWorkbinChangedT changed;
      changed.workbin_type = interaction.workbin_type;
      changed.owner_agent_id = interaction.workbin_owner;
      changed.interaction_id = interaction.interaction_id;
      changed.added = added;
      session->send(wire::encode_frame(0, l.client_id, changed));
    }
  }

 private:
  struct Listener {
    const ClientSession* session;
    uint64_t client_id;
    std::string workbin_type, owner;
    bool is(const ClientSession& s, uint64_t c, const std::string& type, const std::string& o) const {
      return session == &s && client_id == c && workbin_type == type && owner == o;
    }
  };

  OpenSession open_session_;
  std::vector<Listener> listeners_;
};

}  // namespace ix::node
