// NodeServer: one ixnode process's shell — the protocol listener and client sessions, the
// admin endpoint, the pair's lease and role, and configuration reloads, on one libuv loop. The
// requests themselves are the InteractionService's, which exists while this process is the
// primary: NodeServer registers clients and answers pings, then hands every request to it.
//
// Role: the process listens on its own endpoint (primary or backup of its pair) in either role.
// It opens the pair's store (make_store) at start and competes for the pair's lease in it
// (node/store/lease.h): while the other node holds the lease it is the backup — it answers
// registration saying so, refuses work with NotPrimary, and tries the lease every fifth of
// lease-timeout. When it wins (the holder's row expired, or was released) the store's fence is
// set to the new epoch, an empty commit drains whatever this process queued in an earlier term,
// then it loads the service from the store and tells every connected client
// EventServerRoleChanged.
//
// Losing the lease: nothing leaves this process as the primary unless the lease is valid at that
// instant (Lease::valid(), the monotonic serving window) — every request is checked on arrival
// and every reply and event on its way out (Session::send). A process that wakes from a stall
// therefore answers nothing: it drops what it was about to say and, on the next loop turn, steps
// down — the service is dropped (commits still in flight complete into the void; the store's
// fence refuses any that reach the database after the new primary's epoch), every client
// connection is closed (proxies fail what was in flight there with 2002 at once and reconnect to
// find this node a backup), and it competes for the lease again as a backup. The same happens
// when the lease reports itself lost (on_lost). A commit that fails while this node still
// believes it serves — the fence included — is a storage failure: fail-stop (on_fatal; the
// process exits and its supervisor restarts it as a backup).
//
// Planned switchover (POST /pair/switchover on the admin port, `ixctl pair switchover`): the
// clients are told EventServerRoleChanged(Backup) on their open connections first (proxies stop
// sending here and hold the pair's requests for its next primary: proxy/upstream/pair_link.h),
// an empty commit waits for every commit in flight (their replies go out), the service stops,
// the lease is released (expiry now). Requests that arrive meanwhile — sent before their sender
// heard the announcement — are still served, and their commits drained by one more empty commit
// (up to kMaxDrainRounds; after that, what still comes is refused with NotPrimary). Each proxy
// answers the announcement with a ping marked heard-role on the same connection, after all it sent before
// hearing it; the service stops only once every proxy connection's ping has arrived (or closed,
// or kProxyConfirmMs passed: a proxy that does not ping), so a switchover refuses nothing a proxy
// sent, however late its loop read the announcement. A client registering meanwhile hears Backup. The
// backup, told beforehand (POST /pair/expect-takeover: try the lease every 2 ms for two
// lease-timeouts), takes it at once. The released node waits one lease-timeout before it
// competes again.
//
// A proxy's connection is not a desktop's: it speaks for every agent a proxy worker logged in.
// When one closes, its agents, locks and snapshots are held for the pair's proxy-session-grace
// and the same worker's next registration takes them over without a logout or a login in the
// reporting stream (proxy_session_holds.h); a proxy drops its link after repeated missed
// deadlines (proxy/upstream/node_link.h), and that must not log out its agents.
//
// Loop thread only.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "cluster-config/model.h"
#include "node/server/client_session.h"
#include "node/server/clock.h"
#include "node/server/interaction_service.h"
#include "node/server/proxy_auth.h"
#include "node/store/lease.h"
#include "node/store/store.h"
#include "protocol/http/admin_server.h"
#include "protocol/http/http_server.h"
#include "protocol/http/metrics.h"
#include "protocol/net/listener.h"
#include "protocol/net/message_channel.h"
#include "protocol/net/timer.h"

namespace ix::node {

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
  // Stops accepting, closes clients, releases the lease after the commits in flight (they finish
  // and answer no one), stops the store.
  void stop();
  // Applies a reloaded configuration (timeouts, queues, media); endpoints need a restart. An
  // error says why it was refused (the node keeps the previous one); ix_config_reload_success
  // records the outcome either way.
  Status reload(std::shared_ptr<const config::ClusterConfig> config);
  // Called when the node must stop on its own (a failed commit); the process should exit.
  void set_on_fatal(std::function<void(const std::string&)> cb) { on_fatal_ = std::move(cb); }

  bool is_primary() const { return service_ != nullptr; }
  // The pair's lease (null before start()).
  const Lease* lease() const { return lease_.get(); }
  uint16_t port() const { return listener_ ? listener_->port() : 0; }
  uint16_t admin_port() const { return admin_.port(); }
  // The node's metrics (main records a configuration reload the config store refused).
  metrics::Registry& registry() { return registry_; }

 private:
  // One client connection and the protocol on it. Replies and events pass the lease's gate.
  // The requests not answered yet are remembered by (client_id, ref_id) with their type: the
  // first frame sent back with those ids answers the request, and counts it in
  // ix_node_requests_total with its result.
  struct Session final : ClientSession {
    NodeServer& server;
    std::shared_ptr<net::Connection> connection;
    net::MessageChannel channel;
    struct RequestKey {
      uint64_t client_id, ref_id;
      bool operator==(const RequestKey&) const = default;
    };
    struct RequestKeyHash {
      size_t operator()(const RequestKey& k) const { return std::hash<uint64_t>()(k.ref_id * 0x9E3779B97F4A7C15ull ^ k.client_id); }
    };
    std::unordered_map<RequestKey, proto::Message, RequestKeyHash> unanswered;
    // Set once the connection registered as an authenticated proxy that sent its instance token:
    // which worker of which proxy process it is. Its close then holds its agents for
    // proxy-session-grace.
    std::optional<ProxyIdentity> proxy;
    Session(NodeServer& s, std::shared_ptr<net::Connection> c, net::ChannelOptions o) : server(s), connection(c), channel(c, o) {}
    void send(std::span<const uint8_t> frame) override {
      if (!server.may_answer()) return;
      answered(frame);
      channel.send(frame);
    }
    void send(wire::Frame&& frame) override {
      if (!server.may_answer()) return;
      answered(frame);
      channel.send(std::move(frame));
    }
    void send_error(uint64_t ref_id, uint64_t client_id, proto::ErrorCode code, std::string text) override {
      if (!server.may_answer()) return;
      answered(ref_id, client_id, code);
      channel.send_error(ref_id, client_id, code, std::move(text));
    }
    // A request arrived: it is answered by the first frame sent back with its ids.
    void received(const proto::Envelope& e) { unanswered[{e.client_id(), e.ref_id()}] = e.body_type(); }
    // A frame (from wire::encode_*) leaves: the request it answers, if any, is counted.
    void answered(std::span<const uint8_t> frame);
    void answered(uint64_t ref_id, uint64_t client_id, proto::ErrorCode code);
    proto::ClientType client_type() const override { return channel.client_type(); }
    size_t queued_bytes() const override { return connection->queued_bytes(); }
    void disconnect(const std::string& reason) override { connection->close(reason); }
  };

  const config::NodePair& pair() const { return *config_->node_pair(options_.pair_id); }
  std::string role_name() const { return is_primary() ? "primary" : "backup"; }
  LeaseTiming lease_timing() const;
  // Backup: tries the lease once; schedules the next try after delay_ms when it does not win.
  void try_lease();
  void schedule_lease_try(uint64_t delay_ms);
  Status become_primary(const LeaseOutcome& won);
  // Whether this process may say anything as the primary now. False once the lease's serving
  // window has closed: the step-down is then scheduled for the next loop turn (it cannot run
  // inside a send, which the service may be making).
  bool may_answer();
  // Drops the service and every client connection, and competes for the lease again.
  void step_down(const std::string& why);
  // Tells every registered client this node's role.
  void announce(proto::ServerRole role);
  http::HttpResponse start_switchover();
  // Queues the empty commit that follows every commit in flight; finish_switchover() after it.
  void drain_for_switchover();
  // A proxy connection pinged after the switchover's announcement (or closed): all it sent
  // before hearing it has arrived.
  void proxy_confirmed(const Session& s);
  void finish_switchover(const Status& drained);
  http::HttpResponse expect_takeover();
  void on_accept(std::shared_ptr<net::Connection> connection);
  void on_message(Session& session, const proto::Envelope& envelope);
  // RequestRegisterClient: answered with the node's role, or — for the proxy client type from a
  // peer that is not an authenticated proxy — refused, logged, counted, and the connection closed.
  // An authenticated proxy takes over what the same worker's closed session held (adopt_proxy).
  void register_client(Session& session, const proto::Envelope& envelope);
  // A proxy worker registered on `session`: a connection of the same worker still open here is
  // closed (the proxy gave it up; its close may not have reached this node yet) and what it and
  // any held session of the worker own moves to `session`. Returns whether anything moved.
  bool adopt_proxy(Session& session, const ProxyIdentity& who);
  void on_session_closed(Session* session);
  void close_sessions(const std::string& why);
  void refuse(Session& s, const proto::Envelope& e, proto::ErrorCode code, std::string text);
  void register_metrics();

  uv_loop_t* loop_;
  std::shared_ptr<const config::ClusterConfig> config_;
  NodeOptions options_;
  metrics::Registry registry_;
  http::AdminServer admin_;
  NodeMetrics metrics_;
  metrics::Histogram* batch_size_ = nullptr;
  metrics::Histogram* batch_seconds_ = nullptr;
  SystemClock clock_;
  std::unique_ptr<net::Listener> listener_;
  std::unordered_map<net::Connection*, std::unique_ptr<Session>> sessions_;
  net::Timer lease_timer_;      // the backup's next try
  net::Timer step_down_timer_;  // a step-down scheduled by may_answer()
  net::Timer confirm_timer_;    // a switchover's bound on the proxies' pings
  std::unique_ptr<Store> store_;                // built by make_store() at start, in either role
  std::unique_ptr<Lease> lease_;                // the pair's lease in store_
  std::unique_ptr<InteractionService> service_;  // while primary
  std::unique_ptr<ProxyAuthenticator> proxy_auth_;  // from start() on, with the [proxy-auth] secret read then
  bool handing_over_ = false;                   // a switchover is draining the commits in flight
  static constexpr int kMaxDrainRounds = 4;     // drains that may serve late arrivals
  int drain_rounds_ = 0;                        // drains completed in this switchover
  uint64_t served_while_draining_ = 0;          // requests served since the last drain was queued
  bool draining_ = false;                       // a switchover's empty commit is in flight
  // The proxy connections whose ping, after the switchover's announcement, has not arrived yet.
  std::unordered_set<const Session*> unconfirmed_proxies_;
  static constexpr uint64_t kProxyConfirmMs = 250;
  bool taking_over_ = false;                    // won the lease; draining the store before loading
  uint64_t eager_until_ns_ = 0;                 // monotonic: try the lease every 2 ms until then
  bool said_standing_by_ = false;               // the standing_by line was logged for this wait
  metrics::Counter* takeovers_ = nullptr;
  metrics::Counter* renewals_ = nullptr;
  metrics::Counter* losses_ = nullptr;
  metrics::Counter* switchovers_ = nullptr;
  std::shared_ptr<NodeServer*> alive_ = std::make_shared<NodeServer*>(this);  // for store completions
  std::function<void(const std::string&)> on_fatal_;
};

}  // namespace ix::node
