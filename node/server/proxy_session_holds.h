// ProxySessionHolds: what the closed connections of proxies held — the agents they logged in,
// their locks, snapshots and workbin subscriptions — kept for the pair's proxy-session-grace, so
// that the same proxy worker reconnecting (its link dropped after repeated missed deadlines, a
// network blip) takes it all over without a logout or a login in the reporting stream
// (DESIGN.md §7, issue 18 item 3).
//
// A proxy worker is named by its registration: client_name ("ixproxy <id> worker <n>") and the
// instance token its process drew at start (wire::kProxyInstanceKey), and by the proxy its link
// certificate names when a certificate authenticated it — so a proxy that registers under
// another's name can neither take that one's hold over nor end it. hold() moves what a closed
// session owned onto a placeholder session — open to nobody, so nothing is sent to it — and
// starts the grace. reattach() moves it onto a new session that registered with the same name
// and instance. A registration with the same name and another instance means the proxy
// restarted and its agents' desktops went with it: the hold ends at once, as it does when the
// grace passes. An ended hold closes its placeholder like any closed session (the agents are
// logged out, locks and snapshots released).
//
// While a session is held, what would be sent to its agents (an invitation, a revocation) reaches
// no one — the delivering-timeout takes an unanswered invitation back — and its pulls and its
// reporting subscription have ended with the connection (the proxy resumes reporting by seq).
//
// Owned by the InteractionService; loop thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "node/server/client_session.h"
#include "node/server/clock.h"
#include "node/server/node_metrics.h"

namespace ix::node {

// One worker of one proxy process, as it registered.
struct ProxyIdentity {
  std::string name;      // RequestRegisterClient.client_name
  std::string instance;  // the proxy process's token (empty from a proxy that sends none)
  // The proxy its link certificate names (ProxyAuthResult::proxy_id); empty when the shared
  // secret authenticated it.
  std::string certified = {};
  bool operator==(const ProxyIdentity&) const = default;
};

// What moved from one session to another.
struct HeldState {
  size_t agents = 0, locks = 0, snapshots = 0;
};

class ProxySessionHolds {
 public:
  // Moves everything `from` owns onto `to`.
  using Move = std::function<HeldState(const ClientSession& from, const ClientSession& to)>;
  // Closes a placeholder as a closed session; `why` is its agents' logout reason.
  using Close = std::function<void(ClientSession& placeholder, const std::string& why)>;

  ProxySessionHolds(Clock& clock, NodeMetrics& metrics, Move move, Close close);
  ~ProxySessionHolds();
  ProxySessionHolds(const ProxySessionHolds&) = delete;
  ProxySessionHolds& operator=(const ProxySessionHolds&) = delete;

  // The proxy's session `closed` is gone: what it owned is kept for grace_ms under `who` (added
  // to a hold `who` already has, whose grace starts again).
  void hold(const ClientSession& closed, const ProxyIdentity& who, uint64_t grace_ms);
  // A session registered as `who`: takes over what `who` held (true when something was held).
  // Holds of the same proxy name from another instance end now.
  bool reattach(const ClientSession& registered, const ProxyIdentity& who);
  // Drops every hold without closing it (the service stops; its state goes with it).
  void clear();
  size_t size() const { return holds_.size(); }

 private:
  // Stands in for the closed session: open to nobody, so the service sends it nothing.
  struct Placeholder final : ClientSession {
    void send(std::span<const uint8_t>) override {}
    void send(wire::Frame&&) override {}
    void send_error(uint64_t, uint64_t, proto::ErrorCode, std::string) override {}
    proto::ClientType client_type() const override { return proto::ClientType::Proxy; }
    size_t queued_bytes() const override { return 0; }
    void disconnect(const std::string&) override {}
  };
  struct Hold {
    ProxyIdentity who;
    std::unique_ptr<Placeholder> placeholder;
    HeldState held;
    int64_t since_us = 0;
  };

  // Ends a hold: its placeholder is closed (agents logged out, locks released).
  void expire(uint64_t id, const std::string& why);

  Clock& clock_;
  NodeMetrics& metrics_;
  Move move_;
  Close close_;
  std::map<uint64_t, Hold> holds_;  // by deadline ID
  uint64_t next_id_ = 0;
  std::unique_ptr<Deadlines> deadlines_;
};

}  // namespace ix::node
