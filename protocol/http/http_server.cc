#include "protocol/http/http_server.h"

#include <algorithm>
#include <cctype>

namespace ix::http {

HttpResponse HttpResponse::text(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

HttpResponse HttpResponse::json(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.content_type = "application/json";
  r.body = std::move(body);
  return r;
}

std::string status_reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Payload Too Large";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    default: return "Status";
  }
}

// One HTTP connection: its parser, and the answers it sends.
class HttpSession {
 public:
  HttpSession(HttpServer& server, std::shared_ptr<net::Connection> connection)
      : server_(server),
        connection_(std::move(connection)),
        parser_({server.options_.max_header_bytes, server.options_.max_body_bytes},
                [this](const HttpRequest& request, bool keep_alive) { return on_request(request, keep_alive); }) {
    connection_->set_on_data([this](std::span<const uint8_t> data) { on_data(data); });
  }

  ~HttpSession() { connection_->set_on_data(nullptr); }

  net::Connection& connection() { return *connection_; }

 private:
  void on_data(std::span<const uint8_t> data) {
    if (closing_) return;
    if (parser_.feed(data) != HttpRequestParser::Outcome::kFailed || closing_) return;
    fail(parser_.failure_status(), parser_.failure_text());
  }

  bool on_request(const HttpRequest& request, bool keep_alive) {
    HttpResponse response = server_.dispatch(request);
    if (response.withhold) {
      closing_ = true;  // parse nothing more; answer nothing; leave the connection to time out
      return false;
    }
    send(response, keep_alive, request.method == "HEAD");
    if (!keep_alive) {
      closing_ = true;
      connection_->close("HTTP connection: close");
      return false;
    }
    return true;
  }

  void fail(int status, const std::string& text) {
    send(HttpResponse::text(status, text + "\n"), false, false);
    closing_ = true;
    connection_->close("HTTP " + std::to_string(status) + ": " + text);
  }

  void send(const HttpResponse& response, bool keep_alive, bool head_only) {
    std::string out = "HTTP/1.1 " + std::to_string(response.status) + " " + status_reason(response.status) + "\r\n";
    out += "Content-Type: " + response.content_type + "\r\n";
    out += "Content-Length: " + std::to_string(response.body.size()) + "\r\n";
    out += "Cache-Control: no-store\r\n";
    for (const auto& [name, value] : response.headers) out += name + ": " + value + "\r\n";
    out += keep_alive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n";
    if (!head_only) out += response.body;
    connection_->write(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(out.data()), out.size()));
  }

  HttpServer& server_;
  std::shared_ptr<net::Connection> connection_;
  HttpRequestParser parser_;
  bool closing_ = false;
};

HttpServer::HttpServer(uv_loop_t* loop, HttpServerOptions options)
    : loop_(loop), options_(std::move(options)) {
  options_.listener.connection.idle_timeout_ms = options_.idle_timeout_ms;
}

HttpServer::~HttpServer() { close(); }

void HttpServer::route(const std::string& method, const std::string& path, HttpHandler handler) {
  routes_[path][method] = std::move(handler);
  if (method == "GET") routes_[path]["HEAD"] = routes_[path]["GET"];
}

Status HttpServer::listen(const net::Endpoint& endpoint) {
  auto listener = net::Listener::listen(loop_, endpoint, options_.listener,
                                        [this](std::shared_ptr<net::Connection> connection) {
    net::Connection* key = connection.get();
    auto session = std::make_unique<HttpSession>(*this, connection);
    connection->set_on_close([this, key](const std::string&) { sessions_.erase(key); });
    sessions_.emplace(key, std::move(session));
    connection->start();
  });
  if (!listener) return listener.error();
  listener_ = std::move(listener.value());
  return {};
}

void HttpServer::close() {
  if (listener_) listener_->close();
  listener_.reset();
  for (auto& [connection, session] : sessions_) {
    session->connection().clear_callbacks();
    session->connection().abort("HTTP server closed");
  }
  sessions_.clear();
}

HttpResponse HttpServer::dispatch(const HttpRequest& request) const {
  auto path = routes_.find(request.path);
  if (path == routes_.end()) return HttpResponse::text(404, "no such path: " + request.path + "\n");
  auto handler = path->second.find(request.method);
  if (handler == path->second.end()) {
    std::string allowed;
    for (const auto& [method, h] : path->second) allowed += (allowed.empty() ? "" : ", ") + method;
    HttpResponse r = HttpResponse::text(405, request.method + " is not allowed on " + request.path + "\n");
    r.headers.emplace_back("Allow", allowed);
    return r;
  }
  return handler->second(request);
}

}  // namespace ix::http
