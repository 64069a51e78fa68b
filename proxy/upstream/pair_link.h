// PairLink: one worker's view of one node pair — a NodeLink to the primary endpoint and one to
// the backup endpoint, and which of the two currently serves (the one whose node says it is
// primary). Requests for the pair go to primary(); while neither node is primary the pair is
// unreachable and requests for it fail at once instead of waiting out a timeout.
//
// When a primary appears after the pair had none (startup, a failover to the backup, or the
// primary coming back after a lost connection) the serving callback says so: agents the worker
// logged in lost their logins with the old connection and must be logged in again.
//
// Owned by a ProxyWorker; single-threaded on its loop.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "cluster-config/model.h"
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
  bool reachable() { return primary() != nullptr; }
  // Why the pair cannot be asked, naming both nodes' states.
  std::string unreachable_reason() const;
  uint64_t failovers() const { return failovers_; }
  nlohmann::json status() const;

 private:
  void on_role_change(int which);

  std::string id_;
  std::unique_ptr<NodeLink> nodes_[2];  // primary endpoint, backup endpoint
  const NodeLink* serving_ = nullptr;   // the node that is primary now, or null
  const NodeLink* last_serving_ = nullptr;
  uint64_t failovers_ = 0;
  ServingCallback on_serving_;
  NodeStateCallback on_node_state_;
};

}  // namespace ix::proxy
