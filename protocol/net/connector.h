// Connector: keeps one outgoing connection to an endpoint alive.
//
// It resolves the host (numeric addresses at once, names on libuv's thread pool), connects with
// a timeout, and after every failed attempt or lost connection schedules the next attempt with
// exponential backoff (initial_backoff_ms doubling up to max_backoff_ms, with jitter so that many
// proxies do not reconnect in lockstep). A successful connection resets the backoff.
//
// The Connector owns the on_open and on_close callbacks of the connections it makes; the owner
// hears about them through set_on_connected / set_on_disconnected and may set on_data.
// Single-threaded: everything runs on the loop's thread.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <random>
#include <string>

#include "protocol/net/connection.h"
#include "protocol/net/endpoint.h"
#include "protocol/net/timer.h"

namespace ix::net {

struct ConnectorOptions {
  ConnectionOptions connection;
  std::shared_ptr<TlsContext> tls;  // null = plain TCP
  uint64_t initial_backoff_ms = 100;
  uint64_t max_backoff_ms = 10'000;
  double jitter = 0.2;  // each delay is scaled by a random factor in [1 - jitter, 1 + jitter]
};

class Connector {
 public:
  using ConnectedCallback = std::function<void(const std::shared_ptr<Connection>&)>;
  using DisconnectedCallback = std::function<void(const std::string& reason, uint64_t retry_in_ms)>;

  Connector(uv_loop_t* loop, Endpoint endpoint, ConnectorOptions options);
  ~Connector();
  Connector(const Connector&) = delete;
  Connector& operator=(const Connector&) = delete;

  void set_on_connected(ConnectedCallback cb) { on_connected_ = std::move(cb); }
  // Called after a failed attempt or when an open connection closed; the next attempt is
  // already scheduled retry_in_ms from now.
  void set_on_disconnected(DisconnectedCallback cb) { on_disconnected_ = std::move(cb); }

  void start();
  // Stops reconnecting and closes the current connection (gracefully). Idempotent.
  void stop();

  // The open connection, or null while (re)connecting.
  const std::shared_ptr<Connection>& connection() const { return open_; }
  const Endpoint& endpoint() const { return endpoint_; }
  uint64_t attempts() const { return attempts_; }
  uint64_t connects() const { return connects_; }

 private:
  struct Resolve;
  void attempt();
  void connect_to(const sockaddr* address);
  void on_attempt_closed(const std::string& reason);
  uint64_t next_backoff();

  uv_loop_t* loop_;
  Endpoint endpoint_;
  ConnectorOptions options_;
  Timer retry_timer_;
  Resolve* resolving_ = nullptr;
  std::shared_ptr<Connection> attempt_;  // connecting or open
  std::shared_ptr<Connection> open_;
  bool running_ = false;
  uint32_t failures_ = 0;
  uint64_t attempts_ = 0;
  uint64_t connects_ = 0;
  std::minstd_rand random_;
  ConnectedCallback on_connected_;
  DisconnectedCallback on_disconnected_;
};

}  // namespace ix::net
