#include "protocol/http/http_server.h"

#include <llhttp.h>

#include <algorithm>
#include <cctype>

namespace ix::http {

const std::string* HttpRequest::header(const std::string& lower_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_name) return &value;
  }
  return nullptr;
}

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

// One HTTP connection: parser state and the request being assembled.
class HttpSession {
 public:
  HttpSession(HttpServer& server, std::shared_ptr<net::Connection> connection)
      : server_(server), connection_(std::move(connection)) {
    llhttp_settings_init(&settings_);
    settings_.on_message_begin = [](llhttp_t* p) { return self(p)->on_message_begin(); };
    settings_.on_url = [](llhttp_t* p, const char* at, size_t n) { return self(p)->on_url(at, n); };
    settings_.on_header_field = [](llhttp_t* p, const char* at, size_t n) {
      return self(p)->on_header_field(at, n);
    };
    settings_.on_header_value = [](llhttp_t* p, const char* at, size_t n) {
      return self(p)->on_header_value(at, n);
    };
    settings_.on_headers_complete = [](llhttp_t* p) { return self(p)->on_headers_complete(); };
    settings_.on_body = [](llhttp_t* p, const char* at, size_t n) { return self(p)->on_body(at, n); };
    settings_.on_message_complete = [](llhttp_t* p) { return self(p)->on_message_complete(); };
    llhttp_init(&parser_, HTTP_REQUEST, &settings_);
    parser_.data = this;
    connection_->set_on_data([this](std::span<const uint8_t> data) { on_data(data); });
  }

  ~HttpSession() { connection_->set_on_data(nullptr); }

  net::Connection& connection() { return *connection_; }

 private:
  static HttpSession* self(llhttp_t* p) { return static_cast<HttpSession*>(p->data); }

  void on_data(std::span<const uint8_t> data) {
    if (closing_) return;
    llhttp_errno_t rc = llhttp_execute(&parser_, reinterpret_cast<const char*>(data.data()), data.size());
    if (rc == HPE_OK || closing_) return;
    if (rejected_) {
      fail(error_status_, error_text_);
    } else {
      fail(400, std::string("malformed HTTP request: ") + llhttp_errno_name(rc) + ": " +
                    (llhttp_get_error_reason(&parser_) ? llhttp_get_error_reason(&parser_) : ""));
    }
  }

  // Stops the parser; on_data() then answers with this status.
  int reject(int status, std::string text) {
    rejected_ = true;
    error_status_ = status;
    error_text_ = std::move(text);
    return -1;
  }

  int count_header_bytes(size_t n) {
    header_bytes_ += n;
    if (header_bytes_ > server_.options_.max_header_bytes) {
      return reject(431, "request line and headers exceed " +
                             std::to_string(server_.options_.max_header_bytes) + " bytes");
    }
    return HPE_OK;
  }

  int on_message_begin() {
    request_ = HttpRequest{};
    url_.clear();
    header_bytes_ = 0;
    in_value_ = false;
    return HPE_OK;
  }

  int on_url(const char* at, size_t n) {
    url_.append(at, n);
    return count_header_bytes(n);
  }

  int on_header_field(const char* at, size_t n) {
    if (in_value_ || request_.headers.empty()) request_.headers.emplace_back();
    in_value_ = false;
    std::string& name = request_.headers.back().first;
    for (size_t i = 0; i < n; ++i) name += static_cast<char>(std::tolower(static_cast<unsigned char>(at[i])));
    return count_header_bytes(n);
  }

  int on_header_value(const char* at, size_t n) {
    in_value_ = true;
    request_.headers.back().second.append(at, n);
    return count_header_bytes(n);
  }

  int on_headers_complete() {
    request_.method = llhttp_method_name(static_cast<llhttp_method_t>(parser_.method));
    auto q = url_.find('?');
    request_.path = url_.substr(0, q);
    if (q != std::string::npos) request_.query = url_.substr(q + 1);
    if (parser_.content_length > server_.options_.max_body_bytes && parser_.content_length != ULLONG_MAX) {
      return reject(413, "request body exceeds " + std::to_string(server_.options_.max_body_bytes) + " bytes");
    }
    return HPE_OK;
  }

  int on_body(const char* at, size_t n) {
    if (request_.body.size() + n > server_.options_.max_body_bytes) {
      return reject(413, "request body exceeds " + std::to_string(server_.options_.max_body_bytes) + " bytes");
    }
    request_.body.append(at, n);
    return HPE_OK;
  }

  int on_message_complete() {
    HttpResponse response = server_.dispatch(request_);
    if (response.withhold) {
      closing_ = true;  // parse nothing more; answer nothing; leave the connection to time out
      return HPE_USER;
    }
    bool keep_alive = llhttp_should_keep_alive(&parser_) != 0;
    send(response, keep_alive, request_.method == "HEAD");
    if (!keep_alive) {
      closing_ = true;
      connection_->close("HTTP connection: close");
      return HPE_USER;  // stop parsing; any pipelined bytes after a close are ignored
    }
    return HPE_OK;
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
  llhttp_t parser_;
  llhttp_settings_t settings_;
  HttpRequest request_;
  std::string url_;
  size_t header_bytes_ = 0;
  bool in_value_ = false;
  bool closing_ = false;
  bool rejected_ = false;
  int error_status_ = 400;
  std::string error_text_;
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
