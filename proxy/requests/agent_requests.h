// AgentRequests: agent requests (login, logout, ready / not ready, do-not-disturb, media,
// status) fanned out to every pair serving the tenant with one reply to the client
// (proxy/route/agent_fan_out.h: a login succeeds only if every pair accepts, else it is revoked
// where it was accepted), workbin subscriptions, and the agents kept logged in through this
// worker: logged out everywhere when their desktop disconnects, logged in again (with their
// ready media and do-not-disturb) when a pair's primary comes back or its backup takes over.
// A logout a pair could not be told because it was unreachable is sent there when it comes
// back, before the logins again: a node holds a dropped link's agents for the worker's
// reconnection (proxy-session-grace) and would otherwise keep one nobody logs out.
// A second request for an agent while one is in flight is 2004.
//
// Owned by a ProxyWorker (or a test) next to its RequestContext; single-threaded on its loop.
#pragma once

#include <map>
#include <set>
#include <string>

#include "proxy/requests/request_context.h"

namespace ix::proxy {

class AgentRequests {
 public:
  AgentRequests(RequestContext& ctx, metrics::Registry& metrics);

  void handle(const Call& call, const proto::Envelope& envelope, Outgoing request);
  void handle_workbin_subscribe(const Call& call, const proto::Envelope& envelope, const Outgoing& request);
  // The session closed: its agents are logged out on every pair.
  void log_out_agents_of(uint64_t session_id);
  // The pair has a (new) primary: the agents are logged in there again.
  void log_in_again(PairIndex pair);
  size_t logged_in() const { return agents_.size(); }

 private:
  struct AgentKey {
    std::string tenant, agent;
    auto operator<=>(const AgentKey&) const = default;
  };
  // An agent logged in through this worker, and what is needed to log it in again.
  struct AgentRecord {
    uint64_t session_id = 0;
    uint64_t client_id = 0;
    proto::RequestAgentLoginT login;
    std::set<std::string> ready_media;
    bool do_not_disturb = false;
  };

  void apply_agent_change(const AgentKey& key, const proto::EnvelopeT& request, const Call& call);
  void handle_agent_status(const Call& call, const Outgoing& request, const PairSet& pairs);
  // An agent request for each pair that serves its media, narrowed to those media.
  std::vector<std::pair<PairIndex, Outgoing>> agent_requests_by_pair(const PairSet& pairs, Outgoing& request);
  metrics::Counter& relogins(const char* step, bool ok);
  // A logout of the agent on the pair failed because the pair was unreachable: sent again when
  // it is back (log_in_again), unless the agent logged in again through this worker meanwhile.
  void remember_unsent_logout(PairIndex pair, const AgentKey& key, uint64_t client, const PairAnswer& answer);

  RequestContext& ctx_;
  metrics::Registry& metrics_;
  std::map<AgentKey, AgentRecord> agents_;
  std::map<PairIndex, std::map<AgentKey, uint64_t>> unsent_logouts_;  // pair -> agent -> upstream client
  std::set<AgentKey> busy_agents_;  // a fan-out for the agent is in flight (a second one gets 2004)
  metrics::Gauge& agents_gauge_;
  std::map<std::pair<std::string, bool>, metrics::Counter*> relogins_;  // by step, ok
};

}  // namespace ix::proxy
