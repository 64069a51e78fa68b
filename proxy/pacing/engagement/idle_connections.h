// IdleConnections: connections the engagement client keeps open after a keep-alive exchange,
// one per origin (scheme, host, port and forward proxy), so the next cycle's token request or
// post skips TCP, the tunnel and the TLS handshake. A connection the peer closed while idle is
// dropped when taken; one that turns out stale when used is replaced by a fresh one by the
// exchange (HttpExchange), before any answer was read.
//
// Threads: the loop's thread only. Owned by the client (shared with its exchanges).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

struct ssl_st;

namespace ix::net {
class Connection;
}

namespace ix::pacing {

// An open connection between exchanges, with its TLS session (which owns its memory BIOs).
struct KeptConnection {
  KeptConnection() = default;
  ~KeptConnection();
  KeptConnection(const KeptConnection&) = delete;
  KeptConnection& operator=(const KeptConnection&) = delete;

  std::shared_ptr<net::Connection> connection;
  ssl_st* ssl = nullptr;       // null for plain http
  uint64_t idle_since_ms = 0;  // loop time
};

class IdleConnections {
 public:
  explicit IdleConnections(uint64_t max_idle_ms = 30'000) : max_idle_ms_(max_idle_ms) {}

  // The open connection to `origin`, idle for less than max_idle_ms; null if none.
  std::unique_ptr<KeptConnection> take(const std::string& origin, uint64_t now_ms);
  // Keeps `kept` for the next exchange to `origin` (replacing an older one).
  void put(const std::string& origin, std::unique_ptr<KeptConnection> kept);
  // Closes every idle connection.
  void clear() { idle_.clear(); }

  size_t size() const { return idle_.size(); }
  uint64_t reused() const { return reused_; }

 private:
  uint64_t max_idle_ms_;
  std::map<std::string, std::unique_ptr<KeptConnection>> idle_;
  uint64_t reused_ = 0;
};

}  // namespace ix::pacing
