// PairLink: one worker's view of one node pair — a NodeLink to the primary endpoint and one to
// the backup endpoint, and which of the two currently serves (the one whose node says it is
// primary). Requests for the pair go to its primary (send()); while neither node is primary the
// pair is unreachable and requests for it fail at once instead of waiting out a timeout —
// except during a planned hand-over.
//
// A planned hand-over (`ixctl pair switchover`): the serving node tells its open connections
// EventServerRoleChanged(Backup) as it starts handing over (a node that fails or loses its lease
// drops the connection instead). From then until the pair's next primary announces itself, but
// at most the pair's lease-timeout, the pair counts as reachable and send() holds its requests
// (each also at most its own deadline); they go to the next primary once it says so, after the
// agents are logged in there again. What the hold cannot place fails with 2002 as before. The
// requests this proxy sent the old primary before it heard are answered by it: the NodeLink
// pings the node as it hears, and the node drains and stops serving only once that ping (after
// those requests on the connection) arrived. So a switchover costs its clients no refusal, only
// the hand-over's milliseconds of latency.
//
// When a primary appears after the pair had none (startup, a failover to the backup, or the
// primary coming back after a lost connection) the serving callback says so: agents the worker
// logged in lost their logins with the old connection and must be logged in again.
//
// Owned by a ProxyWorker; single-threaded on its loop.
#pragma once

#include <uv.h>

#include <deque>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "cluster-config/model.h"
#include "protocol/net/timer.h"
#include "proxy/server/outgoing.h"
#include "proxy/upstream/node_link.h"

namespace ix::proxy {

class PairLink {
 public:
  // available: the pair has a primary now (or has just lost it); failover: the primary is
  // another node than the last one.
  using ServingCallback = std::function<void(bool available, bool failover)>;

  PairLink(uv_loop_t* loop, const config::NodePair& pair, const NodeLinkOptions& options);

  void start();
  // Closes both links; their requests in flight get 2002 on the next turn, with why as the text
  // when given (NodeLink::stop). The callbacks are cleared: nothing more is reported.
  void stop(const std::string& why = "");
  void set_on_event(const NodeLink::EventCallback& cb);
  // The pair gained or lost its primary.
  void set_on_serving_changed(ServingCallback cb) { on_serving_ = std::move(cb); }
  // One of the two nodes changed state (for the per-node upstream gauge).
  using NodeStateCallback = std::function<void(const NodeLink& node, const char* endpoint)>;
  void set_on_node_state(NodeStateCallback cb) { on_node_state_ = std::move(cb); }
  void set_request_timeout(uint64_t ms);

  const std::string& id() const { return id_; }
  NodeLink* primary();
  // The pair takes requests now: it has a primary, or is handing over to its next one.
  bool reachable() { return primary() != nullptr || handing_over(); }
  // Whether a planned hand-over is under way (the old primary said so; the next one has not yet).
  bool handing_over() const { return hand_over_until_ms_ != 0; }
  // Sends request (addressed to upstream_client) to the primary with a deadline of timeout_ms (0:
  // the request-timeout), or holds it while the pair hands over. on_reply runs exactly once,
  // never from inside send(). Returns false — without calling on_reply — when the pair takes
  // nothing now (no primary, no hand-over).
  bool send(const Outgoing& request, uint64_t upstream_client, NodeLink::ReplyCallback on_reply, uint64_t timeout_ms = 0);
  // Why the pair cannot be asked, naming both nodes' states.
  std::string unreachable_reason() const;
  uint64_t failovers() const { return failovers_; }
  nlohmann::json status() const;

 private:
  // A request waiting for the pair's next primary.
  struct Held {
    Outgoing request;  // kept (owns its bytes)
    uint64_t upstream_client = 0;
    NodeLink::ReplyCallback on_reply;
    uint64_t deadline_ms = 0;  // uv_now: its own deadline or the hand-over's end, the earlier
  };

  void on_role_change(int which, NodeRole was);
  // Sends what is held to the new primary.
  void release_held(NodeLink& to);
  // Fails the held requests whose deadline has passed (all of them when `all`) with 2002.
  void expire_held(bool all);
  void arm_hold_timer();

  uv_loop_t* loop_;
  std::string id_;
  uint64_t request_timeout_ms_;
  uint64_t hand_over_hold_ms_;         // the pair's lease-timeout
  uint64_t hand_over_until_ms_ = 0;    // uv_now; 0: no hand-over under way
  std::deque<Held> held_;
  std::string stop_why_;  // stop()'s reason, the text of what it answers
  net::Timer hold_timer_;
  std::unique_ptr<NodeLink> nodes_[2];  // primary endpoint, backup endpoint
  NodeRole roles_[2] = {NodeRole::kDown, NodeRole::kDown};  // as last reported by each
  const NodeLink* serving_ = nullptr;   // the node that is primary now, or null
  const NodeLink* last_serving_ = nullptr;
  uint64_t failovers_ = 0;
  ServingCallback on_serving_;
  NodeStateCallback on_node_state_;
};

}  // namespace ix::proxy
