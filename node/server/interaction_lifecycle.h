// InteractionLifecycle: who has which interaction. It owns the agent -> interactions index
// (invited, handling or in conference) and the delivering/handling deadlines (DeliveryTimers),
// and makes the moves that change them — assign/unassign, handing an interaction to an agent,
// a party leaving, an interaction returning to its queue — each recording its reporting events
// (PartyAdded/Removed, TakenFromQueue, PlacedInQueue, InvitationRevoked) into the change being
// prepared. It does not commit or answer anyone: the handlers (delivery_requests.cc and the
// others) do, with what it recorded. When a deadline passes it calls on_timeout with the
// interaction (from the clock's turn, never from inside a call).
//
// Owned by the ServiceContext; loop thread only.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "cluster-config/model.h"
#include "node/agents/agent_registry.h"
#include "node/model/interaction_registry.h"
#include "node/reporting/reporting_hub.h"
#include "node/server/client_session.h"
#include "node/server/clock.h"
#include "node/server/delivery_timers.h"

namespace ix::node {

class InteractionLifecycle {
 public:
  using PairOf = std::function<const config::NodePair&()>;
  using TimeoutCallback = std::function<void(const std::string& interaction_id)>;

  InteractionLifecycle(InteractionRegistry& interactions, AgentRegistry& agents, ReportingHub& reporting, Clock& clock,
                       PairOf pair, TimeoutCallback on_timeout);

  // A new primary: every interaction an agent had (invited or handling) is indexed again and
  // gets a fresh deadline — its agent must log in again and answer, or it goes back to its queue.
  void restore();
  // Drops every deadline (the service stops; the interactions outlive it in the store).
  void clear() { timers_.clear(); }

  // Starts (or restarts) the interaction's deadline for its state: delivering-timeout while it
  // is being delivered, handling-timeout while it is handled.
  void start_timer(const Interaction& interaction);
  // Gives the interaction to the agent (its handling party) without reporting it.
  void assign(Interaction& interaction, const AgentState& agent);
  // Adds an agent to the interaction's conference without reporting it.
  void join(Interaction& interaction, const std::string& agent);
  // Takes it from every party, with the deadline; reports nothing.
  void unassign(Interaction& interaction);
  static bool is_party(const Interaction& interaction, const std::string& agent_id);
  // Makes an agent the handling party: assigns it, starts the handling deadline, reports PartyAdded.
  void hand_to_agent(Interaction& interaction, const AgentState& agent, Transaction& t, std::vector<RecordedEvent>& events,
                     int64_t now);
  // Reports every party (the handling agent and conference members) leaving, then unassigns.
  void remove_all_parties(Interaction& interaction, Transaction& t, std::vector<RecordedEvent>& events, int64_t now);
  // One party leaves an interaction in conference; if it was the handling agent, the first
  // conference member carries the interaction on. Reports PartyRemoved.
  void leave_conference(Interaction& interaction, const std::string& agent, Transaction& t, std::vector<RecordedEvent>& events,
                        int64_t now);
  // Takes a queued interaction out of its queue, reporting it; does nothing otherwise.
  void take_out_of_queue(Interaction& interaction, Transaction& t, std::vector<RecordedEvent>& events, int64_t now);
  // Puts the interaction in a queue and reports PlacedInQueue (previous_queue when it moved).
  void place_in_queue(Interaction& interaction, const std::string& queue, const std::string& previous_queue, Transaction& t,
                      std::vector<RecordedEvent>& events, int64_t now);
  // Returns an interaction that an agent had (invited or handling) to its queue, reporting why:
  // InvitationRevoked for an invitation, PartyRemoved for a handling.
  void return_to_queue(Interaction& interaction, Transaction& t, std::vector<RecordedEvent>& events,
                       std::unique_ptr<proto::KvListT> reason, bool invitation, int64_t now);

  // Each records one event about the interaction as it is now.
  RecordedEvent taken_from_queue(Transaction& t, const Interaction& interaction, int64_t now);
  RecordedEvent party_added(Transaction& t, const Interaction& interaction, const std::string& agent,
                            const std::string& place, int64_t now);
  RecordedEvent party_removed(Transaction& t, const Interaction& interaction, const std::string& agent,
                              const std::string& place, int64_t now);
  RecordedEvent invitation_rejected(Transaction& t, const Interaction& interaction, const std::string& agent,
                                    const proto::KvList* reason, int64_t now);

  // Why the agent cannot take one more interaction of this one's media (not ready, DND, no
  // capacity left), or nothing when it can.
  std::optional<std::string> cannot_take(const AgentState& agent, const Interaction& interaction) const;
  // The one agent a desktop's logical client speaks for (agent submits and pulls make it a
  // party), or null.
  AgentState* speaking_agent(ClientSession& s, uint64_t client_id);
  // Any request from the desktop that speaks for an agent restarts the handling deadlines of
  // what the agent handles.
  void touch_handling(ClientSession& s, uint64_t client_id);

 private:
  void forget(const std::string& agent, const std::string& interaction_id);

  InteractionRegistry& interactions_;
  AgentRegistry& agents_;
  ReportingHub& reporting_;
  PairOf pair_;
  DeliveryTimers timers_;
  std::unordered_map<std::string, std::set<std::string>> handled_by_;  // agent -> interactions invited/handled
};

}  // namespace ix::node
