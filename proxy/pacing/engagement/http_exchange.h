// HttpExchange: one HTTP/1.1 request and its response, without blocking, on a libuv loop — the
// engagement client's transport. It resolves the host (numeric addresses at once, names on
// libuv's thread pool), connects over TCP with the shared net::Connection, optionally opens a
// CONNECT tunnel through an HTTP forward proxy, runs TLS (BoringSSL, memory BIOs, the trusted CAs
// of a shared net::TlsContext; SNI and the host name — or the IP address — verified against the
// certificate), writes the request and parses the response with llhttp.
//
// Why not net::Connection's own TLS: it starts TLS at connect time and checks names only, while
// a tunnelled exchange needs TLS to start after the proxy's answer, inside the same stream, and
// the service may be addressed by IP. So the Connection carries plain bytes and the TLS records
// are pumped here; the SSL_CTX (CA loading, verification mode) is the project's TlsContext.
//
// Every exchange has a deadline: when it passes, the connection is closed and the callback gets
// ExchangeFailure::kTimeout. Responses larger than max_response_bytes fail with kTooLarge.
// With TransportSettings::idle, a connection whose answer was read completely (and that the
// server keeps alive) is kept for the next exchange to the same origin; a kept connection that
// fails before any answer arrives (the server closed it meanwhile) is replaced once by a fresh
// one. A failed or timed-out exchange always closes its connection, so no half-read answer is
// ever inherited. Without it, one connection per exchange ("Connection: close").
//
// Threads: everything on the loop's thread. The callback runs exactly once, never from inside
// start(), unless cancel() came first; the exchange keeps itself alive until then.
#pragma once

#include <uv.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "protocol/net/endpoint.h"
#include "protocol/net/tls_context.h"
#include "protocol/net/timer.h"
#include "protocol/result.h"
#include "proxy/pacing/engagement/exchange_failure.h"
#include "proxy/pacing/engagement/http_url.h"
#include "proxy/pacing/engagement/idle_connections.h"

namespace ix::net {
class Connection;
}

struct ssl_st;
struct bio_st;

namespace ix::pacing {

using Clock = std::chrono::steady_clock;

// What every exchange of one client shares.
struct TransportSettings {
  std::shared_ptr<net::TlsContext> tls;      // trusted CAs; required for https URLs
  std::optional<net::Endpoint> forward_proxy;
  uint64_t connect_timeout_ms = 2000;        // name resolution and TCP connect, bounded by the deadline
  size_t max_response_bytes = 16 * 1024 * 1024;  // status line, headers and body
  std::shared_ptr<IdleConnections> idle;     // keep-alive; null: one connection per exchange
};

struct HttpCall {
  std::string method = "POST";
  HttpUrl url;
  std::vector<std::pair<std::string, std::string>> headers;  // besides Host, Content-Length, Connection
  // Shared, not copied: a retry or the next base URL sends the same megabyte-sized body.
  std::shared_ptr<const std::string> body;
};

struct HttpAnswer {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
};

class HttpExchange : public std::enable_shared_from_this<HttpExchange> {
 public:
  // The error's code is an ExchangeFailure; its text names the URL and what happened.
  using Callback = std::function<void(Result<HttpAnswer>)>;

  static std::shared_ptr<HttpExchange> start(uv_loop_t* loop, HttpCall call, const TransportSettings& settings,
                                             Clock::time_point deadline, Callback callback);
  ~HttpExchange();
  HttpExchange(const HttpExchange&) = delete;
  HttpExchange& operator=(const HttpExchange&) = delete;

  // Closes the connection; the callback never runs. Idempotent.
  void cancel();

 private:
  enum class Stage { kResolving, kConnecting, kTunnel, kHandshake, kResponse, kDone };
  struct Resolve;
  struct Parser;

  HttpExchange(uv_loop_t* loop, HttpCall call, const TransportSettings& settings, Callback callback);
  void begin(Clock::time_point deadline);
  void open_fresh();
  void adopt(std::unique_ptr<KeptConnection> kept);
  void watch_connection();
  bool retry_fresh();
  void connect_to(const sockaddr* address);
  void on_open();
  void on_data(const uint8_t* data, size_t size);
  void on_closed(const std::string& reason);
  void end_of_stream(const std::string& reason);
  void send_connect();
  void on_tunnel_data(const uint8_t* data, size_t size);
  void start_tls();
  void on_tls_data(const uint8_t* data, size_t size);
  void pump_tls_output();
  void send_request();
  void write_plain(std::string_view bytes);
  void on_response_data(const char* data, size_t size);
  void fail(ExchangeFailure failure, const std::string& what);
  void finish(Result<HttpAnswer> result);
  void finish_later(Result<HttpAnswer> result);
  std::string where() const;
  std::string stage_name() const;

  uv_loop_t* loop_;
  HttpCall call_;
  TransportSettings settings_;
  Callback callback_;
  std::shared_ptr<HttpExchange> self_;  // while the exchange runs
  net::Timer deadline_timer_;
  net::Timer connect_timer_;  // resolving and connecting, so a dead URL leaves time for the next
  uint64_t timeout_ms_ = 0;
  Resolve* resolving_ = nullptr;
  std::shared_ptr<net::Connection> connection_;
  Stage stage_ = Stage::kResolving;
  std::string tunnel_answer_;
  ssl_st* ssl_ = nullptr;
  bio_st* tls_in_ = nullptr;
  bio_st* tls_out_ = nullptr;
  std::unique_ptr<Parser> parser_;
  std::string origin_;         // the key of this exchange's connection among the idle ones
  bool reused_ = false;        // the connection came from IdleConnections
  bool keep_alive_ = false;    // the answer was complete and the server keeps the connection
  size_t response_bytes_ = 0;  // plaintext answer bytes read
};

}  // namespace ix::pacing
