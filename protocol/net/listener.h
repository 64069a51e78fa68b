// Listener: accepts TCP (optionally TLS) connections on one endpoint and hands each to its owner
// as a started-or-not Connection (the owner sets callbacks, then calls start()).
//
// The listening handle is heap-allocated and freed in its close callback, so the Listener object
// itself may be destroyed at any time on its loop's thread.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>

#include "protocol/net/connection.h"
#include "protocol/net/endpoint.h"
#include "protocol/result.h"

namespace ix::net {

struct ListenerOptions {
  ConnectionOptions connection;
  std::shared_ptr<TlsContext> tls;  // null = plain TCP
  int backlog = 511;
  // Several loops (threads) may each listen on the same port; the kernel spreads connections.
  bool reuse_port = false;
};

class Listener {
 public:
  using AcceptCallback = std::function<void(std::shared_ptr<Connection>)>;

  static Result<std::unique_ptr<Listener>> listen(uv_loop_t* loop, const Endpoint& endpoint,
                                                  ListenerOptions options, AcceptCallback on_accept);
  ~Listener();
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  // The bound port (the one the operating system chose when the endpoint asked for port 0).
  uint16_t port() const { return port_; }
  uint64_t accepted() const { return accepted_; }
  // Stops accepting; already accepted connections are not affected. Idempotent.
  void close();

 private:
  struct Handle;
  Listener(ListenerOptions options, AcceptCallback on_accept);
  void on_connection(int status);

  ListenerOptions options_;
  AcceptCallback on_accept_;
  Handle* handle_ = nullptr;
  uint16_t port_ = 0;
  uint64_t accepted_ = 0;
};

}  // namespace ix::net
