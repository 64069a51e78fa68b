// ServiceContext: what the node's request handlers work with — the configuration, the in-memory
// model (interactions, agents), the reporting hub, the parts that own state, and the one commit
// path. The handlers (requests.h: interaction_requests.cc, agent_requests.cc,
// delivery_requests.cc, query_requests.cc, workbin_requests.cc) are free functions over it, as
// the proxy's are over its RequestContext; the InteractionService owns it and dispatches to them.
//
// The parts, each with the state it owns:
//   InteractionLifecycle — who has which interaction (assign/unassign, party events, queue
//                          moves) and the delivering/handling deadlines;
//   Transfers            — transfers and conferences waiting for the invitee's answer;
//   HeldPulls            — pulls waiting for an interaction to arrive;
//   SnapshotLocks        — the sessions' snapshots and locks;
//   SubmitKeys           — recent submits' idempotency keys (kept in the store too);
//   WorkbinListeners     — who hears of a workbin's changes.
//
// A request that changes state is validated against the model, applied to it, and turned into a
// Transaction (the new interaction rows and the reporting events); commit() sends the client's
// answer only when the store reports the commit, and publishes the events at the same moment. A
// failed commit sets `failed` (the service refuses everything after) and calls on_fatal.
//
// Owned by the InteractionService; loop thread only.
#pragma once

#include <uv.h>

#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "cluster-config/model.h"
#include "node/agents/agent_registry.h"
#include "node/model/interaction_registry.h"
#include "node/reporting/reporting_hub.h"
#include "node/server/client_session.h"
#include "node/server/clock.h"
#include "node/server/compiled_view.h"
#include "node/server/held_pulls.h"
#include "node/server/interaction_lifecycle.h"
#include "node/server/node_metrics.h"
#include "node/server/snapshot_locks.h"
#include "node/server/submit_keys.h"
#include "node/server/transfers.h"
#include "node/server/workbin_listeners.h"
#include "node/store/store.h"

namespace ix::node {

class ServiceContext {
 public:
  using FatalCallback = std::function<void(const std::string&)>;
  // The store counter the generated interaction IDs are numbered from.
  static constexpr const char* kInteractionCounter = "interaction";

  ServiceContext(uv_loop_t* loop, std::shared_ptr<const config::ClusterConfig> config, std::string pair_id, Store& store,
                 Clock& clock, NodeMetrics& metrics);
  ServiceContext(const ServiceContext&) = delete;
  ServiceContext& operator=(const ServiceContext&) = delete;

  const config::NodePair& pair() const { return *config->node_pair(pair_id); }
  int64_t now_us() const { return clock.now_us(); }
  // A configured queue, or null.
  const config::Queue* queue(const std::string& id) const;

  // Adds the interaction's row, as it is now, to the transaction.
  void persist(Transaction& t, const Interaction& interaction) const;
  // Commits a change; on success sends `ok` to the session (when there is one and it is still
  // open) and publishes the events; on failure answers the error and fails the node.
  void commit(ClientSession* session, uint64_t ref_id, uint64_t client_id, Transaction transaction,
              std::vector<RecordedEvent> events, wire::Frame ok);
  // The same, answering the request with EventAck.
  void commit_ack(ClientSession& s, const proto::Envelope& e, Transaction transaction, std::vector<RecordedEvent> events);
  // Answers the request with EventError (counted by code).
  void refuse(ClientSession& s, const proto::Envelope& e, proto::ErrorCode code, std::string text);
  // Refuses the request (and returns false) when one of its required attributes is empty
  // (MissingAttribute) or this pair does not serve its tenant (InvalidAttribute); the first
  // attribute is the tenant.
  bool check_tenant_request(ClientSession& s, const proto::Envelope& e, const char* what,
                            std::initializer_list<std::pair<const char*, const std::string*>> attributes);
  // The interaction a request names; refuses the request (and returns null) when it names none
  // or one this pair does not have.
  Interaction* find_interaction(ClientSession& s, const proto::Envelope& e, const flatbuffers::String* id, const char* what);
  // The session behind a key kept in state (a lock owner, an agent's desktop), if still open.
  ClientSession* open_session(const void* key) const;
  // Whether `s` is still open, asked on a later loop turn (false once this context is gone): for
  // answers that come back from the store outside commit().
  std::function<bool()> still_open(ClientSession& s) const;
  // Sends an event to every session that speaks for the agent (re-addressed to its client).
  void notify_agent(const std::string& agent_id, const wire::Frame& frame);

  uv_loop_t* const loop;
  std::shared_ptr<const config::ClusterConfig> config;
  const std::string pair_id;
  Store& store;
  Clock& clock;
  NodeMetrics& metrics;
  FatalCallback on_fatal;
  bool failed = false;
  std::unordered_set<ClientSession*> sessions;  // open sessions, to answer after a commit
  ReportingHub reporting;
  InteractionRegistry interactions;
  AgentRegistry agents;
  InteractionLifecycle lifecycle;
  Transfers transfers;
  std::map<std::string, CompiledView> views;
  SnapshotLocks snapshot_locks{interactions};
  SubmitKeys submit_keys;
  HeldPulls held_pulls;
  WorkbinListeners workbin_listeners;
  uint64_t last_ticket = 0;          // invitations' tickets (deliveries and transfers)
  uint64_t interaction_counter = 0;  // the last generated interaction ID's number

 private:
  void on_committed(ClientSession* session, uint64_t ref_id, uint64_t client_id, const Status& status,
                    const std::vector<RecordedEvent>& events, const wire::Frame& ok);

  // Store completions arrive on a later loop turn, possibly after this context is gone.
  std::shared_ptr<ServiceContext*> self_ = std::make_shared<ServiceContext*>(this);
};

}  // namespace ix::node
