// InteractionService: the requests a primary node serves, in process — the owner of the
// ServiceContext (the model, the reporting hub and the parts that own state) and the dispatcher
// that hands each request to its handler (requests.h). It is built when the node becomes
// primary, from the Store it loads, and knows nothing of sockets: requests come in with the
// ClientSession they arrived on, and replies and events go out through ClientSession.
//
// If a commit fails the service cannot vouch for its memory any more: it answers the error,
// refuses everything after, and calls on_fatal so that the process gives up the lease
// (fail-stop). Time comes from a Clock, so that tests run the delivery and handling timeouts on
// a manual clock. Loop thread only.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>

#include "cluster-config/model.h"
#include "node/server/proxy_session_holds.h"
#include "node/server/service_context.h"
#include <nlohmann/json.hpp>

namespace ix::node {

class InteractionService {
 public:
  using FatalCallback = ServiceContext::FatalCallback;

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
  void session_opened(ClientSession& s) { ctx_.sessions.insert(&s); }
  // Releases what the session held (locks, snapshots, held pulls, subscriptions) and logs out
  // the agents only it spoke for.
  void session_closed(ClientSession& s);
  // A proxy's session closed: its pulls and reporting subscription end, but its agents, locks,
  // snapshots and workbin subscriptions are held for the pair's proxy-session-grace
  // (proxy_session_holds.h); with a grace of 0, or after a storage failure, as session_closed().
  void proxy_session_closed(ClientSession& s, const ProxyIdentity& who);
  // A session registered as the proxy worker `who`: it takes over what `who`'s closed session
  // held, without a word to the reporting stream (true when there was something). A hold of the
  // same worker name from another proxy instance ends now.
  bool proxy_registered(ClientSession& s, const ProxyIdentity& who);
  size_t held_proxy_sessions() const { return proxy_holds_.size(); }
  // Applies a reloaded configuration (timeouts, queues, media, views).
  Status reload(std::shared_ptr<const config::ClusterConfig> config);
  // Drops every deadline, so that nothing keeps the loop alive; state stays in the store.
  void stop();
  // Called once when a commit fails; the process should give up the lease and exit.
  void set_on_fatal(FatalCallback cb) { ctx_.on_fatal = std::move(cb); }
  bool failed() const { return ctx_.failed; }

  const InteractionRegistry& interactions() const { return ctx_.interactions; }
  const AgentRegistry& agents() const { return ctx_.agents; }
  const ReportingHub& reporting() const { return ctx_.reporting; }
  // Agents by state, each counted once: busy (an interaction in hand: being delivered to them,
  // handled, or joined in a conference), else do-not-disturb, ready on some media, or not ready
  // on any.
  struct AgentStates {
    size_t ready = 0, busy = 0, not_ready = 0, dnd = 0;
  };
  AgentStates agent_states() const;
  // The service's part of the admin /status page, and the same fields for a node that has no
  // service (a backup).
  nlohmann::json status() const;
  static nlohmann::json empty_status();

 private:
  // Hands the request to its handler; one line per request type.
  void dispatch(ClientSession& s, const proto::Envelope& e);
  // Drops reporting events older than event-log-retention, then schedules the next pass.
  void apply_retention();
  // Sizes the interaction index for the pair's max-live-interactions (and at least this many).
  void reserve_interactions(size_t at_least);
  // Moves what one session owns (agents, locks, snapshots, workbin subscriptions) to another.
  HeldState move_session(const ClientSession& from, const ClientSession& to);
  // session_closed() with the agents' logout reason.
  void release_session(ClientSession& s, const std::string& logout_reason);

  ServiceContext ctx_;
  ProxySessionHolds proxy_holds_;
  std::unique_ptr<Deadlines> retention_timer_;
};

}  // namespace ix::node
