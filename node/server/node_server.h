// NodeServer: one ixnode process — the protocol listener, client sessions, the pair's lease and
// role, and the requests a node serves, on one libuv loop.
//
// A request that changes state is validated against the in-memory model, applied to it, and
// turned into a Transaction (the new interaction rows and the reporting events); the client's
// EventAck (or result) is sent only when the store reports the commit, and the events are
// published to reporting subscribers at the same moment. If a commit fails the node cannot
// vouch for its memory any more: it answers the error, gives up the lease and exits, so that the
// backup reloads from the database (fail-stop).
//
// Role: the process listens on its own endpoint (primary or backup of its pair) in either role.
// While another process holds the lease it is the backup: it answers registration saying so,
// refuses work with NotPrimary, and retries the lease every lease-timeout. When it gets the
// lease it loads the open interactions and tells every connected client EventServerRoleChanged.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>

#include "cluster-config/model.h"
#include "node/agents/agent_registry.h"
#include "node/model/interaction_registry.h"
#include "protocol/query/condition.h"
#include "node/reporting/reporting_hub.h"
#include "node/store/lease.h"
#include "node/store/store.h"
#include "protocol/http/admin_server.h"
#include "protocol/http/metrics.h"
#include "protocol/net/listener.h"
#include "protocol/net/message_channel.h"
#include "protocol/net/request_timers.h"
#include "protocol/net/timer.h"

namespace ix::node {

using query::Condition;
using query::Order;

struct NodeOptions {
  std::string pair_id;
  bool preferred_primary = true;  // which of the pair's endpoints this process serves
  bool group_commit = true;       // false commits every request alone (a benchmark baseline)
};

class NodeServer {
 public:
  NodeServer(uv_loop_t* loop, std::shared_ptr<const config::ClusterConfig> config, NodeOptions options);
  ~NodeServer();

  // Listens on the protocol and admin ports and starts competing for the lease.
  Status start();
  // Stops accepting, closes clients, waits for pending commits, releases the lease.
  void stop();
  // Applies a reloaded configuration (timeouts, queues, media); endpoints need a restart.
  void reload(std::shared_ptr<const config::ClusterConfig> config);
  // Called when the node must stop on its own (a failed commit); the process should exit.
  void set_on_fatal(std::function<void(const std::string&)> cb) { on_fatal_ = std::move(cb); }

  bool is_primary() const { return primary_; }
  uint16_t port() const { return listener_ ? listener_->port() : 0; }
  uint16_t admin_port() const { return admin_.port(); }

 private:
  // One client connection and the protocol on it.
  struct Session {
    std::shared_ptr<net::Connection> connection;
    net::MessageChannel channel;
    Session(std::shared_ptr<net::Connection> c, net::ChannelOptions o) : connection(c), channel(c, o) {}
  };

  const config::NodePair& pair() const { return *config_->node_pair(options_.pair_id); }
  std::string role_name() const { return primary_ ? "primary" : "backup"; }
  void try_lease();
  Status become_primary();
  void on_accept(std::shared_ptr<net::Connection> connection);
  void on_message(Session& session, const proto::Envelope& envelope);
  void dispatch(Session& session, const proto::Envelope& envelope);
  void on_session_closed(Session* session);

  // Commits a change; on success sends `ok` to the session (when there is one and it is still
  // connected) and publishes the events; on failure answers the error and fails the node.
  void commit(Session* session, uint64_t ref_id, uint64_t client_id, Transaction transaction,
              std::vector<RecordedEvent> events, wire::Frame ok);
  void on_committed(net::Connection* key, uint64_t ref_id, uint64_t client_id, const Status& status,
                    const std::vector<RecordedEvent>& events, const wire::Frame& ok);
  std::vector<uint8_t> encode_interaction(const Interaction& interaction) const;
  void persist(Transaction& t, const Interaction& interaction) const;
  int64_t now_us() const;

  // Requests.
  void handle_submit(Session& s, const proto::Envelope& e);
  void handle_get_properties(Session& s, const proto::Envelope& e);
  void handle_change_properties(Session& s, const proto::Envelope& e);
  void handle_place_in_queue(Session& s, const proto::Envelope& e);
  void handle_stop_processing(Session& s, const proto::Envelope& e);
  void handle_pull(Session& s, const proto::Envelope& e);
  struct CompiledView;
  // A pull that found nothing and waits (up to its hold time) for an interaction to arrive.
  struct HeldPull {
    net::Connection* session_key;
    uint64_t ref_id, client_id;
    std::vector<std::string> queues;
    const CompiledView* view;
    uint32_t count;
    uint64_t timer_id;
  };
  // Takes interactions for a pull; returns false when there were none.
  bool serve_pull(Session& s, uint64_t ref_id, uint64_t client_id, const std::vector<std::string>& queues,
                  const CompiledView* view, uint32_t count);
  void serve_held_pulls();
  void handle_start_reporting(Session& s, const proto::Envelope& e);

  // Agents (agent_requests.cc).
  void handle_agent_login(Session& s, const proto::Envelope& e);
  void handle_agent_logout(Session& s, const proto::Envelope& e);
  void handle_agent_readiness(Session& s, const proto::Envelope& e, bool ready);
  void handle_agent_dnd(Session& s, const proto::Envelope& e);
  void handle_agent_add_media(Session& s, const proto::Envelope& e);
  void handle_agent_remove_media(Session& s, const proto::Envelope& e);
  void handle_agent_status(Session& s, const proto::Envelope& e);
  AgentState* owned_agent(Session& s, const proto::Envelope& e, const flatbuffers::String* tenant,
                          const flatbuffers::String* agent, const char* what);
  bool check_media(Session& s, const proto::Envelope& e, const std::string& media, const char* what);
  void logout_agents_of(Session* session);

  // Delivery (delivery_requests.cc): invitations, accept/reject, delivering and handling timeouts.
  void handle_deliver(Session& s, const proto::Envelope& e);
  void handle_accept(Session& s, const proto::Envelope& e);
  void handle_reject(Session& s, const proto::Envelope& e);
  // Transfer: the handling agent invites another; the inviter's reply waits for the answer.
  struct PendingTransfer {
    std::string interaction_id, from, to;
    uint64_t ticket;
    net::Connection* inviter;  // session key
    uint64_t ref_id, client_id;
    bool conference;  // the invitee joins instead of taking over
  };
  // Transfer and conference share the invitation; `conference` says which.
  void handle_transfer(Session& s, const proto::Envelope& e, bool conference);
  void handle_leave(Session& s, const proto::Envelope& e);
  static bool is_party(const Interaction& interaction, const std::string& agent_id);
  // Ends a pending transfer without moving the interaction; the inviter gets `error`.
  void fail_transfer(const std::string& interaction_id, const std::string& error, bool revoke_invitee);
  // Checks that an agent can take one more interaction of a media type; refuses otherwise.
  bool agent_can_take(Session& s, const proto::Envelope& e, const AgentState& agent, const Interaction& interaction);
  void assign(Interaction& interaction, const AgentState& agent);
  void unassign(Interaction& interaction);
  void start_timer(const Interaction& interaction, config::Duration timeout);
  void cancel_timer(const std::string& interaction_id);
  void on_interaction_timer(uint64_t timer_id);
  // Sends an event to every session that speaks for the agent.
  void notify_agent(const std::string& agent_id, const wire::Frame& frame);
  void touch_handling(Session& s, uint64_t client_id);
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
  AgentState* speaking_agent(Session& s, uint64_t client_id);
  // Returns an interaction that an agent had (invited or handling) to its queue, reporting why.
  void return_to_queue(Interaction& interaction, Transaction& t, std::vector<RecordedEvent>& events,
                       std::unique_ptr<proto::KvListT> reason, bool invitation);

  // Queries (query_requests.cc): find, snapshots, locks, and the compiled views.
  struct CompiledView {
    const config::View* view;
    Condition condition;
    Order order;
    bool default_order;
  };
  struct Snapshot {
    const Session* owner;
    std::vector<std::string> ids;
    std::vector<std::string> locked;
  };
  Status compile_views(const config::ClusterConfig& config);
  // Queued, unlocked interactions of the queues that meet the condition, in order.
  std::vector<Interaction*> select(const std::vector<std::string>& queues, const Condition& condition,
                                   const Order& order, bool default_order, size_t limit);
  void handle_find(Session& s, const proto::Envelope& e);
  void handle_take_snapshot(Session& s, const proto::Envelope& e);
  void handle_snapshot_page(Session& s, const proto::Envelope& e);
  void handle_release_snapshot(Session& s, const proto::Envelope& e);
  void handle_lock(Session& s, const proto::Envelope& e, bool lock);
  void release_snapshot(const std::string& id);

  // Workbins (workbin_requests.cc).
  struct WorkbinListener {
    const Session* session;
    uint64_t client_id;
    std::string workbin_type, owner;
  };
  void handle_place_in_workbin(Session& s, const proto::Envelope& e);
  void handle_workbin_content(Session& s, const proto::Envelope& e);
  void handle_workbin_subscribe(Session& s, const proto::Envelope& e);
  void pull_from_workbin(Session& s, const proto::Envelope& e);
  // Resolves the owner of a workbin (agent or place, per its type); refuses and returns false
  // when the type or owner is wrong.
  bool workbin_owner(Session& s, const proto::Envelope& e, const std::string& tenant, const std::string& type,
                     const std::string& agent, const std::string& place, std::string& owner, const char* what);
  // Takes an interaction out of its workbin (reporting it) before it goes elsewhere.
  void leave_workbin(Interaction& interaction, Transaction& t, std::vector<RecordedEvent>& events);
  void notify_workbin(const Interaction& interaction, bool added);
  void release_session_holds(const Session* session);
  RecordedEvent agent_logout_event(Transaction& t, const AgentState& agent, std::unique_ptr<proto::KvListT> reason);

  Interaction* find_interaction(Session& s, const proto::Envelope& e, const flatbuffers::String* id, const char* what);
  void refuse(Session& s, const proto::Envelope& e, proto::ErrorCode code, std::string text);
  void register_metrics();
  // Drops reporting events older than event-log-retention, then schedules the next pass.
  void apply_retention();

  uv_loop_t* loop_;
  std::shared_ptr<const config::ClusterConfig> config_;
  NodeOptions options_;
  metrics::Registry metrics_;
  http::AdminServer admin_;
  std::unique_ptr<net::Listener> listener_;
  std::unordered_map<net::Connection*, std::unique_ptr<Session>> sessions_;
  net::Timer lease_timer_;
  net::Timer retention_timer_;
  Lease lease_;
  bool primary_ = false;
  bool failed_ = false;
  std::unique_ptr<Store> store_;  // built by make_store() when the node becomes primary
  std::unique_ptr<ReportingHub> reporting_;
  InteractionRegistry interactions_;
  AgentRegistry agents_;
  std::unordered_map<std::string, std::set<std::string>> handled_by_;  // agent -> interactions invited/handled
  net::RequestTimers interaction_timers_;
  std::unordered_map<std::string, uint64_t> timer_of_;  // interaction -> timer ID
  std::unordered_map<uint64_t, std::string> timed_;     // timer ID -> interaction
  uint64_t next_timer_id_ = 0;
  uint64_t next_ticket_ = 0;
  std::map<std::string, PendingTransfer> transfers_;  // by interaction
  net::RequestTimers transfer_timers_;                 // by ticket
  std::map<std::string, CompiledView> views_;
  std::map<std::string, Snapshot> snapshots_;
  std::unordered_map<std::string, const Session*> lock_owner_;  // interaction -> session holding its lock
  uint64_t next_snapshot_ = 0;
  std::vector<HeldPull> held_pulls_;
  std::vector<WorkbinListener> workbin_listeners_;
  net::RequestTimers held_pull_timers_;
  uint64_t next_held_pull_ = 0;
  uint64_t interaction_counter_ = 0;
  std::function<void(const std::string&)> on_fatal_;
  // Store completions arrive on a later loop turn, possibly after this server is gone.
  std::shared_ptr<NodeServer*> self_ = std::make_shared<NodeServer*>(this);

  metrics::Counter* commits_failed_ = nullptr;
  metrics::Histogram* batch_size_ = nullptr;
  metrics::Histogram* batch_seconds_ = nullptr;
};

}  // namespace ix::node
