#include "protocol/http/http_server.h"

#include <algorithm>
#include <cctype>
#include <deque>

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

// One HTTP connection: its parser, and the answers it sends, in the order of the requests.
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
  // A request's place in the answer order; its answer may come before the earlier ones'.
  struct Answer {
    bool ready = false;
    HttpResponse response;
    bool keep_alive = true;
    bool head_only = false;
  };

  void on_data(std::span<const uint8_t> data) {
    if (closing_) return;
    if (parser_.feed(data) != HttpRequestParser::Outcome::kFailed || closing_) return;
    fail(parser_.failure_status(), parser_.failure_text());
  }

  bool on_request(const HttpRequest& request, bool keep_alive) {
    const uint64_t index = next_index_++;
    answers_.push_back(Answer{false, {}, keep_alive, request.method == "HEAD"});
    // A handler may answer at once (inside this call) or later; the weak token keeps a late
    // answer from reaching a session that is gone.
    server_.dispatch(request, [self = std::weak_ptr<HttpSession*>(self_), index](HttpResponse response) {
      if (auto session = self.lock()) (*session)->answered(index, std::move(response));
    });
    if (closing_) return false;  // answered with a close or withheld: parse nothing more
    if (!keep_alive) {
      closing_ = true;  // the connection closes once this request is answered
      return false;
    }
    // Backpressure for pipelining clients: bytes already read are still parsed, but no more
    // are read until the answers catch up.
    if (answers_.size() >= kMaxPendingAnswers && !paused_) {
      paused_ = true;
      connection_->pause_reading();
    }
    return true;
  }

  void answered(uint64_t index, HttpResponse response) {
    if (finished_ || index < first_index_ || index - first_index_ >= answers_.size()) return;
    Answer& answer = answers_[index - first_index_];
    if (answer.ready) return;  // answered twice: the first answer stands
    answer.ready = true;
    answer.response = std::move(response);
    flush();
  }

  // Sends the answers that are ready and not preceded by one that is not.
  void flush() {
    while (!finished_ && !answers_.empty() && answers_.front().ready) {
      Answer answer = std::move(answers_.front());
      answers_.pop_front();
      ++first_index_;
      if (answer.response.withhold) {
        // No answer at all: nothing more is parsed or answered; the connection times out.
        closing_ = finished_ = true;
        answers_.clear();
        return;
      }
      send(answer.response, answer.keep_alive, answer.head_only);
      if (!answer.keep_alive) {
        closing_ = finished_ = true;
        answers_.clear();
        connection_->close(close_reason_.empty() ? "HTTP connection: close" : close_reason_);
        return;
      }
    }
    if (paused_ && !closing_ && answers_.size() < kMaxPendingAnswers) {
      paused_ = false;
      connection_->resume_reading();
    }
  }

  void fail(int status, const std::string& text) {
    // Answered after the requests before it, then the connection closes.
    closing_ = true;
    close_reason_ = "HTTP " + std::to_string(status) + ": " + text;
    next_index_++;
    answers_.push_back(Answer{true, HttpResponse::text(status, text + "\n"), false, false});
    flush();
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
  std::shared_ptr<HttpSession*> self_ = std::make_shared<HttpSession*>(this);
  std::deque<Answer> answers_;  // the requests not answered yet, oldest first
  uint64_t first_index_ = 0;    // the index of answers_.front()
  uint64_t next_index_ = 0;     // the next request's
  bool closing_ = false;        // parse nothing more
  bool finished_ = false;       // answer nothing more (closed, or an answer withheld)
  bool paused_ = false;         // reading paused: too many answers pending
  std::string close_reason_;
};

HttpServer::HttpServer(uv_loop_t* loop, HttpServerOptions options)
    : loop_(loop), options_(std::move(options)) {
  options_.listener.connection.idle_timeout_ms = options_.idle_timeout_ms;
}

HttpServer::~HttpServer() { close(); }

void HttpServer::route(const std::string& method, const std::string& path, HttpHandler handler) {
  route_async(method, path, [handler = std::move(handler)](const HttpRequest& request, HttpRespond respond) {
    respond(handler(request));
  });
}

void HttpServer::route_async(const std::string& method, const std::string& path, HttpAsyncHandler handler) {
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

void HttpServer::dispatch(const HttpRequest& request, HttpRespond respond) const {
  auto path = routes_.find(request.path);
  if (path == routes_.end()) return respond(HttpResponse::text(404, "no such path: " + request.path + "\n"));
  auto handler = path->second.find(request.method);
  if (handler == path->second.end()) {
    std::string allowed;
    for (const auto& [method, h] : path->second) allowed += (allowed.empty() ? "" : ", ") + method;
    HttpResponse r = HttpResponse::text(405, request.method + " is not allowed on " + request.path + "\n");
    r.headers.emplace_back("Allow", allowed);
    return respond(std::move(r));
  }
  handler->second(request, std::move(respond));
}

}  // namespace ix::http
