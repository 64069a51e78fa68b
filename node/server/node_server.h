// NodeServer: one ixnode process's shell — the protocol listener and client sessions, the
// admin endpoint, the pair's lease and role, and configuration reloads, on one libuv loop. The
// requests themselves are the InteractionService's, which exists while this process is the
// primary: NodeServer registers clients and answers pings, then hands every request to it.
//
// Role: the process listens on its own endpoint (primary or backup of its pair) in either role.
// While another process holds the lease it is the backup: it answers registration saying so,
// refuses work with NotPrimary, and retries the lease every lease-timeout. When it gets the
// lease it opens the store (make_store), loads the service from it and tells every connected
// client EventServerRoleChanged. If a commit fails the service stops serving and the node
// gives up the lease and exits, so that the backup reloads from the database (fail-stop).
//
// The lease is taken with try_lease() and given up in stop(); a lease that can be lost while
// held (a database lease) would call stop() through the same on_fatal path a failed commit
// takes.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>
#include <unordered_map>

#include "cluster-config/model.h"
#include "node/server/client_session.h"
#include "node/server/clock.h"
#include "node/server/interaction_service.h"
#include "node/store/lease.h"
#include "node/store/store.h"
#include "protocol/http/admin_server.h"
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
  // Stops accepting, closes clients, stops the store (commits in flight finish on a later loop
  // turn and answer no one), releases the lease.
  void stop();
  // Applies a reloaded configuration (timeouts, queues, media); endpoints need a restart.
  void reload(std::shared_ptr<const config::ClusterConfig> config);
  // Called when the node must stop on its own (a failed commit); the process should exit.
  void set_on_fatal(std::function<void(const std::string&)> cb) { on_fatal_ = std::move(cb); }

  bool is_primary() const { return service_ != nullptr; }
  uint16_t port() const { return listener_ ? listener_->port() : 0; }
  uint16_t admin_port() const { return admin_.port(); }
  // The node's metrics (main records a configuration reload the config store refused).
  metrics::Registry& registry() { return registry_; }

 private:
  // One client connection and the protocol on it.
  struct Session final : ClientSession {
    std::shared_ptr<net::Connection> connection;
    net::MessageChannel channel;
    Session(std::shared_ptr<net::Connection> c, net::ChannelOptions o) : connection(c), channel(c, o) {}
    void send(std::span<const uint8_t> frame) override { channel.send(frame); }
    void send(wire::Frame&& frame) override { channel.send(std::move(frame)); }
    void send_error(uint64_t ref_id, uint64_t client_id, proto::ErrorCode code, std::string text) override {
      channel.send_error(ref_id, client_id, code, std::move(text));
    }
    proto::ClientType client_type() const override { return channel.client_type(); }
    size_t queued_bytes() const override { return connection->queued_bytes(); }
    void disconnect(const std::string& reason) override { connection->close(reason); }
  };

  const config::NodePair& pair() const { return *config_->node_pair(options_.pair_id); }
  std::string role_name() const { return is_primary() ? "primary" : "backup"; }
  void try_lease();
  Status become_primary();
  void on_accept(std::shared_ptr<net::Connection> connection);
  void on_message(Session& session, const proto::Envelope& envelope);
  void on_session_closed(Session* session);
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
  net::Timer lease_timer_;
  Lease lease_;
  std::unique_ptr<Store> store_;                // built by make_store() when the node becomes primary
  std::unique_ptr<InteractionService> service_;  // while primary
  std::function<void(const std::string&)> on_fatal_;
};

}  // namespace ix::node
