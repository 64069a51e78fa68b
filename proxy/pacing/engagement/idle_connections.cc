#include "proxy/pacing/engagement/idle_connections.h"

#include <openssl/ssl.h>

#include "protocol/net/connection.h"

namespace ix::pacing {

KeptConnection::~KeptConnection() {
  // Its callbacks still point at the finished exchange, which ignores them.
  if (connection) connection->abort("idle connection closed");
  if (ssl != nullptr) SSL_free(ssl);
}

std::unique_ptr<KeptConnection> IdleConnections::take(const std::string& origin, uint64_t now_ms) {
  auto it = idle_.find(origin);
  if (it == idle_.end()) return nullptr;
  std::unique_ptr<KeptConnection> kept = std::move(it->second);
  idle_.erase(it);
  if (!kept->connection || !kept->connection->is_open() || now_ms - kept->idle_since_ms >= max_idle_ms_) return nullptr;
  ++reused_;
  return kept;
}

void IdleConnections::put(const std::string& origin, std::unique_ptr<KeptConnection> kept) {
  idle_[origin] = std::move(kept);
}

}  // namespace ix::pacing
