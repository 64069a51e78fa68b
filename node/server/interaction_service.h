// InteractionService: the requests a primary node serves, in process — interactions (submit,
// properties, queues, pull), agents, delivery and transfers, queries with snapshots and locks,
// workbins, reporting subscriptions. It is built when the node becomes primary, from the
// Store it loads, and knows nothing of sockets: requests come in with the ClientSession they
// arrived on, and replies and events go out through ClientSession.
//
// A request that changes state is validated against the in-memory model, applied to it, and
// turned into a Transaction (the new interaction rows and the reporting events); the client's
// EventAck (or result) is sent only when the store reports the commit, and the events are
// published to reporting subscribers at the same moment. If a commit fails the service cannot
// vouch for its memory any more: it answers the error, refuses everything after, and calls
// on_fatal so that the process gives up the lease (fail-stop).
//
// Time comes from a Clock, so that tests run the delivery and handling timeouts on a manual
// clock. Loop thread only.
#pragma once

#include <uv.h>

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "cluster-config/model.h"
#include "node/agents/agent_registry.h"
#include "node/model/interaction_registry.h"
#include "node/reporting/reporting_hub.h"
#include "node/server/client_session.h"
#include "node/server/clock.h"
#include "node/server/compiled_view.h"
#include "node/server/delivery_timers.h"
#include "node/server/held_pulls.h"
#include "node/server/snapshot_locks.h"
#include "node/server/node_metrics.h"
#include "node/store/store.h"
#include "protocol/http/metrics.h"
#include "protocol/query/condition.h"
#include <nlohmann/json.hpp>

namespace ix::node {

using query::Condition;
using query::Order;

class InteractionService {
 public:
  using FatalCallback = std::function<void(const std::string&)>;

  InteractionService(uv_loop_t* loop, std::shared_ptr<const config::ClusterConfig> config, std::string pair_id,
                     Store& store, Clock& clock, NodeMetrics& metrics);
  ~InteractionService();
  InteractionService(const InteractionService&) = delete;
  InteractionService& operator=(const InteractionService&) = delete;

  // Checks that the configuration's views compile (at start-up, before any state is loaded).
  static Status check_views(const config::ClusterConfig& config);

  // Loads the open interactions and the event log position from the store and starts the
  // timers of the invitations and handlings that were open; the service then serves requests.
  Status load();
  // Serves one request (not registration or ping, which the shell answers) from a session.
  void handle(ClientSession& s, const proto::Envelope& e);
  void session_opened(ClientSession& s) { sessions_.insert(&s); }
  // Releases what the session held (locks, snapshots, held pulls, subscriptions) and logs out
  // the agents only it spoke for.
  void session_closed(ClientSession& s);
  // Applies a reloaded configuration (timeouts, queues, media, views).
  Status reload(std::shared_ptr<const config::ClusterConfig> config);
  // Drops every deadline, so that nothing keeps the loop alive; state stays in the store.
  void stop();
  // Called once when a commit fails; the process should give up the lease and exit.
  void set_on_fatal(FatalCallback cb) { on_fatal_ = std::move(cb); }
  bool failed() const { return failed_; }

  const InteractionRegistry& interactions() const { return interactions_; }
  const AgentRegistry& agents() const { return agents_; }
  const ReportingHub& reporting() const { return reporting_; }
  // The service's part of the admin /status page, and the same fields for a node that has no
  // service (a backup).
  nlohmann::json status() const;
  static nlohmann::json empty_status();

 private:
  // The store counter the generated interaction IDs are numbered from.
  static constexpr const char* kInteractionCounter = "interaction";

  // Drops reporting events older than event-log-retention, then schedules the next pass.
  void apply_retention();

  const config::NodePair& pair() const { return *config_->node_pair(pair_id_); }

  // Commits a change; on success sends `ok` to the session (when there is one and it is still
  // connected) and publishes the events; on failure answers the error and fails the node.
  void commit(ClientSession* session, uint64_t ref_id, uint64_t client_id, Transaction transaction,
              std::vector<RecordedEvent> events, wire::Frame ok);
  void on_committed(ClientSession* session, uint64_t ref_id, uint64_t client_id, const Status& status,
                    const std::vector<RecordedEvent>& events, const wire::Frame& ok);
  std::vector<uint8_t> encode_interaction(const Interaction& interaction) const;
  void persist(Transaction& t, const Interaction& interaction) const;
  int64_t now_us() const { return clock_.now_us(); }

  // Requests.
  void handle_submit(ClientSession& s, const proto::Envelope& e);
  void handle_get_properties(ClientSession& s, const proto::Envelope& e);
  void handle_change_properties(ClientSession& s, const proto::Envelope& e);
  void handle_place_in_queue(ClientSession& s, const proto::Envelope& e);
  void handle_stop_processing(ClientSession& s, const proto::Envelope& e);
  void handle_pull(ClientSession& s, const proto::Envelope& e);
  // Takes interactions for a pull; returns false when there were none.
  bool serve_pull(ClientSession& s, uint64_t ref_id, uint64_t client_id, const std::vector<std::string>& queues,
                  const CompiledView* view, uint32_t count);
  void serve_held_pulls();
  void handle_start_reporting(ClientSession& s, const proto::Envelope& e);
  // Where a statistics engine starts: open interactions and agents as of the last assigned seq.
  void handle_reporting_state(ClientSession& s, const proto::Envelope& e);
  void dispatch(ClientSession& s, const proto::Envelope& e);
  // The session behind a key kept in state (a lock owner, an agent's desktop), if still open.
  ClientSession* open_session(const void* key) const;

  // Agents (agent_requests.cc).
  void handle_agent_login(ClientSession& s, const proto::Envelope& e);
  void handle_agent_logout(ClientSession& s, const proto::Envelope& e);
  void handle_agent_readiness(ClientSession& s, const proto::Envelope& e, bool ready);
  void handle_agent_dnd(ClientSession& s, const proto::Envelope& e);
  void handle_agent_add_media(ClientSession& s, const proto::Envelope& e);
  void handle_agent_remove_media(ClientSession& s, const proto::Envelope& e);
  void handle_agent_status(ClientSession& s, const proto::Envelope& e);
  AgentState* owned_agent(ClientSession& s, const proto::Envelope& e, const flatbuffers::String* tenant,
                          const flatbuffers::String* agent, const char* what);
  bool check_media(ClientSession& s, const proto::Envelope& e, const std::string& media, const char* what);
  void logout_agents_of(ClientSession* session);

  // Delivery (delivery_requests.cc): invitations, accept/reject, delivering and handling timeouts.
  void handle_deliver(ClientSession& s, const proto::Envelope& e);
  void handle_accept(ClientSession& s, const proto::Envelope& e);
  void handle_reject(ClientSession& s, const proto::Envelope& e);
  // Transfer: the handling agent invites another; the inviter's reply waits for the answer.
  struct PendingTransfer {
    std::string interaction_id, from, to;
    uint64_t ticket;
    ClientSession* inviter;  // null once it disconnects
    uint64_t ref_id, client_id;
    bool conference;  // the invitee joins instead of taking over
  };
  // Transfer and conference share the invitation; `conference` says which.
  void handle_transfer(ClientSession& s, const proto::Envelope& e, bool conference);
  void handle_leave(ClientSession& s, const proto::Envelope& e);
  static bool is_party(const Interaction& interaction, const std::string& agent_id);
  // Ends a pending transfer without moving the interaction; the inviter gets `error`.
  void fail_transfer(const std::string& interaction_id, const std::string& error, bool revoke_invitee);
  // Checks that an agent can take one more interaction of a media type; refuses otherwise.
  bool agent_can_take(ClientSession& s, const proto::Envelope& e, const AgentState& agent, const Interaction& interaction);
  void assign(Interaction& interaction, const AgentState& agent);
  void unassign(Interaction& interaction);
  // Takes the interaction back from its agent (delivering- or handling-timeout).
  void on_delivery_timeout(const std::string& interaction_id);
  // Sends an event to every session that speaks for the agent.
  void notify_agent(const std::string& agent_id, const wire::Frame& frame);
  void touch_handling(ClientSession& s, uint64_t client_id);
  // Reporting helpers: each records one event about the interaction as it is now.
  RecordedEvent taken_from_queue(Transaction& t, const Interaction& interaction, int64_t now);
  RecordedEvent party_added(Transaction& t, const Interaction& interaction, const std::string& agent,
                            const std::string& place, int64_t now);
  RecordedEvent party_removed(Transaction& t, const Interaction& interaction, const std::string& agent,
                              const std::string& place, int64_t now);
  // Reports every party (the handling agent and conference members) leaving, then unassigns.
  void remove_all_parties(Interaction& interaction, Transaction& t, std::vector<RecordedEvent>& events, int64_t now);
  // Takes a queued interaction out of its queue, reporting it; does nothing otherwise.
  void take_out_of_queue(Interaction& interaction, Transaction& t, std::vector<RecordedEvent>& events, int64_t now);
  // Makes an agent the handling party: assigns it, starts the handling timer, reports PartyAdded.
  void hand_to_agent(Interaction& interaction, const AgentState& agent, Transaction& t,
                     std::vector<RecordedEvent>& events, int64_t now);
  // The one agent a desktop's logical client speaks for (agent submits and pulls make it a
  // party), or null.
  AgentState* speaking_agent(ClientSession& s, uint64_t client_id);
  // Returns an interaction that an agent had (invited or handling) to its queue, reporting why.
  void return_to_queue(Interaction& interaction, Transaction& t, std::vector<RecordedEvent>& events,
                       std::unique_ptr<proto::KvListT> reason, bool invitation);

  // Queries (query_requests.cc): find, snapshots, locks, and the compiled views.
  static Result<std::map<std::string, CompiledView>> compile_views(const config::ClusterConfig& config);
  // Queued, unlocked interactions of the queues that meet the condition, in order.
  std::vector<Interaction*> select(const std::vector<std::string>& queues, const Condition& condition,
                                   const Order& order, bool default_order, size_t limit);
  void handle_find(ClientSession& s, const proto::Envelope& e);
  void handle_take_snapshot(ClientSession& s, const proto::Envelope& e);
  void handle_snapshot_page(ClientSession& s, const proto::Envelope& e);
  void handle_release_snapshot(ClientSession& s, const proto::Envelope& e);
  void handle_lock(ClientSession& s, const proto::Envelope& e, bool lock);

  // Workbins (workbin_requests.cc).
  struct WorkbinListener {
    const ClientSession* session;
    uint64_t client_id;
    std::string workbin_type, owner;
  };
  void handle_place_in_workbin(ClientSession& s, const proto::Envelope& e);
  void handle_workbin_content(ClientSession& s, const proto::Envelope& e);
  void handle_workbin_subscribe(ClientSession& s, const proto::Envelope& e);
  void pull_from_workbin(ClientSession& s, const proto::Envelope& e);
  // Resolves the owner of a workbin (agent or place, per its type); refuses and returns false
  // when the type or owner is wrong.
  bool workbin_owner(ClientSession& s, const proto::Envelope& e, const std::string& tenant, const std::string& type,
                     const std::string& agent, const std::string& place, std::string& owner, const char* what);
  // Takes an interaction out of its workbin (reporting it) before it goes elsewhere.
  void leave_workbin(Interaction& interaction, Transaction& t, std::vector<RecordedEvent>& events);
  void notify_workbin(const Interaction& interaction, bool added);
  RecordedEvent agent_logout_event(Transaction& t, const AgentState& agent, std::unique_ptr<proto::KvListT> reason);

  Interaction* find_interaction(ClientSession& s, const proto::Envelope& e, const flatbuffers::String* id, const char* what);
  void refuse(ClientSession& s, const proto::Envelope& e, proto::ErrorCode code, std::string text);

  uv_loop_t* loop_;
  std::shared_ptr<const config::ClusterConfig> config_;
  std::string pair_id_;
  Store& store_;
  Clock& clock_;
  NodeMetrics& metrics_;
  FatalCallback on_fatal_;
  bool failed_ = false;
  std::unordered_set<ClientSession*> sessions_;  // open sessions, to answer after a commit
  ReportingHub reporting_;
  InteractionRegistry interactions_;
  AgentRegistry agents_;
  std::unordered_map<std::string, std::set<std::string>> handled_by_;  // agent -> interactions invited/handled
  DeliveryTimers delivery_timers_;
  uint64_t next_ticket_ = 0;
  std::map<std::string, PendingTransfer> transfers_;  // by interaction
  std::unique_ptr<Deadlines> transfer_timers_;        // by ticket
  std::map<std::string, CompiledView> views_;
  SnapshotLocks snapshot_locks_{interactions_};
  HeldPulls held_pulls_;
  std::vector<WorkbinListener> workbin_listeners_;
  std::unique_ptr<Deadlines> retention_timer_;
  uint64_t interaction_counter_ = 0;
  // Store completions arrive on a later loop turn, possibly after this service is gone.
  std::shared_ptr<InteractionService*> self_ = std::make_shared<InteractionService*>(this);
};

}  // namespace ix::node
