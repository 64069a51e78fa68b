// HttpServer: a small HTTP/1.1 server on llhttp and the shared Connection type, for the admin
// ports (/metrics, /healthz, /readyz, /status, the status page) and the engagement simulator.
//
// Handlers are synchronous functions from request to response, registered per method and exact
// path. Keep-alive and pipelined requests are answered in order. Bad input never reaches a
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
  Status listen(const net::Endpoint& endpoint);
  uint16_t port() const { return listener_ ? listener_->port() : 0; }
  size_t open_connections() const { return sessions_.size(); }
  // Stops listening and closes every connection. Idempotent.
  void close();

 private:
  friend class HttpSession;
  HttpResponse dispatch(const HttpRequest& request) const;

  uv_loop_t* loop_;
  HttpServerOptions options_;
  std::map<std::string, std::map<std::string, HttpHandler>> routes_;  // path -> method -> handler
  std::unique_ptr<net::Listener> listener_;
  std::unordered_map<net::Connection*, std::unique_ptr<class HttpSession>> sessions_;
};

}  // namespace ix::http
