// HttpServer: a small HTTP/1.1 server on llhttp and the shared Connection type, for the admin
// ports (/metrics, /healthz, /readyz, /status, the status page) and the engagement simulator.
//
// Handlers are registered per method and exact path. Most are synchronous functions from request
// to response; an asynchronous handler (route_async) gets a respond function to call later, on
// the server's loop — the admin port's /status and /readyz answer once the proxy's worker threads
// have, while the loop goes on serving other requests and connections. Keep-alive and pipelined
// requests are answered in order: an answer that is ready waits for the earlier ones, and a
// connection stops reading while kMaxPendingAnswers of its requests wait for answers. Bad input never reaches a
// handler: a request llhttp cannot parse gets 400 and the connection is closed; oversized
// headers 431, an oversized body 413, an unknown path 404, a known path with another method 405.
// Single-threaded, on the loop it was created with.
#pragma once

#include <uv.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "protocol/http/http_request_parser.h"
#include "protocol/net/listener.h"
#include "protocol/result.h"

namespace ix::http {

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // No answer at all: the connection stays open and unread until the peer gives up or the idle
  // timeout closes it (the engagement simulator's "stall" mode, for clients' timeout tests).
  bool withhold = false;

  static HttpResponse text(int status, std::string body);
  static HttpResponse json(int status, std::string body);
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;
// The answer to one request, given once, on the server's loop thread, now or later. Called after
// the connection closed (or the server was closed), it does nothing.
using HttpRespond = std::function<void(HttpResponse)>;
using HttpAsyncHandler = std::function<void(const HttpRequest&, HttpRespond respond)>;

// Requests of one connection that may wait for their answers before it stops reading more.
inline constexpr size_t kMaxPendingAnswers = 16;

struct HttpServerOptions {
  net::ListenerOptions listener;
  size_t max_header_bytes = 16 * 1024;  // request line and headers
  size_t max_body_bytes = 1024 * 1024;
  uint64_t idle_timeout_ms = 60'000;
};

std::string status_reason(int status);

class HttpServer {
 public:
  HttpServer(uv_loop_t* loop, HttpServerOptions options = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  void route(const std::string& method, const std::string& path, HttpHandler handler);
  void route_async(const std::string& method, const std::string& path, HttpAsyncHandler handler);
  Status listen(const net::Endpoint& endpoint);
  uint16_t port() const { return listener_ ? listener_->port() : 0; }
  size_t open_connections() const { return sessions_.size(); }
  // Stops listening and closes every connection. Idempotent.
  void close();

 private:
  friend class HttpSession;
  void dispatch(const HttpRequest& request, HttpRespond respond) const;

  uv_loop_t* loop_;
  HttpServerOptions options_;
  std::map<std::string, std::map<std::string, HttpAsyncHandler>> routes_;  // path -> method -> handler
  std::unique_ptr<net::Listener> listener_;
  std::unordered_map<net::Connection*, std::unique_ptr<class HttpSession>> sessions_;
};

}  // namespace ix::http
