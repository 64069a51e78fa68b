// EngagementTestServer: a small engagement service for the engagement client's tests and
// benchmark — the token and bulk-targets endpoints of the contract over real TLS on loopback
// (the test CA's certificate for 127.0.0.1/localhost), and a CONNECT forward proxy, on a thread
// and loop of their own. It misbehaves on request: a status, a stall, invalid JSON, wrong types,
// unknown ids, per-target errors, an oversized answer, 401 for the next N posts.
//
// Threads: the constructor starts the server thread and returns once both listeners listen; the
// setters and readers are thread-safe (one mutex); the destructor releases a stall, stops the
// loop and joins the thread.
#pragma once

#include <uv.h>

#include <nlohmann/json.hpp>

#include <atomic>
#include <csignal>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "protocol/http/http_server.h"
#include "protocol/net/connection.h"
#include "protocol/net/listener.h"
#include "protocol/net/tls_context.h"
#include "tests/support/test_certs.h"

namespace ix::test {

class EngagementTestServer {
 public:
  enum class Mode {
    kEcho,          // pendingInvitations = invitationsAllowed + 1 for every target
    kStatus,        // answer `status` with {"error": ...}
    kStall,         // never answer (until the server stops)
    kInvalidJson,   // 200 with a body that is not JSON
    kWrongType,     // 200, "pendingInvitations" as a string
    kUnknownId,     // 200, an id that was not posted
    kTargetErrors,  // 200, echo plus an error for the first target
    kHuge,          // 200 with a body of `huge_bytes`
  };

  struct Seen {
    int token_requests = 0;
    int bulk_requests = 0;
    int rejected_tokens = 0;  // bulk requests whose bearer token was not the current one
    std::string last_fencing;
    std::string last_node;
    std::string last_authorization;
    size_t last_targets = 0;
    std::vector<std::string> connect_lines;  // the proxy's CONNECT request lines
  };

  // host: where to listen ("0.0.0.0" makes 127.0.0.2 reach it too); https: TLS, else plain http.
  explicit EngagementTestServer(std::string host = "127.0.0.1", bool https = true) : host_(std::move(host)), https_(https) {
    // A client that gave up (the stall and size-limit tests) leaves the server writing to a
    // closed socket; that must be EPIPE, not the end of the test program.
    ::signal(SIGPIPE, SIG_IGN);
    const TestCertificates& certs = test_certificates();
    net::TlsOptions options;
    options.cert_pem = certs.server.cert_pem;
    options.key_pem = certs.server.key_pem;
    auto tls = net::TlsContext::create_server(options);
    if (!tls) throw std::runtime_error(tls.error().text);
    tls_ = *tls;
    uv_loop_init(&loop_);
    std::mutex started_mutex;
    std::condition_variable started;
    bool ready = false;
    std::string error;
    thread_ = std::thread([&] {
      uv_async_init(&loop_, &stop_, [](uv_async_t* a) { static_cast<EngagementTestServer*>(a->data)->shut_down(); });
      stop_.data = this;
      uv_async_init(&loop_, &drop_, [](uv_async_t* a) { static_cast<EngagementTestServer*>(a->data)->drop(); });
      drop_.data = this;
      std::string failed = open();
      {
        std::lock_guard lock(started_mutex);
        ready = true;
        error = failed;
      }
      started.notify_all();
      uv_run(&loop_, UV_RUN_DEFAULT);
    });
    std::unique_lock lock(started_mutex);
    started.wait(lock, [&] { return ready; });
    if (!error.empty()) {
      lock.unlock();
      stop();
      throw std::runtime_error(error);
    }
  }

  ~EngagementTestServer() { stop(); }

  uint16_t port() const { return port_; }
  uint16_t proxy_port() const { return proxy_port_; }
  std::string base_url() const { return scheme() + "127.0.0.1:" + std::to_string(port_) + "/api/"; }
  std::string auth_url() const { return scheme() + "127.0.0.1:" + std::to_string(port_) + "/oauth/token"; }

  void set_mode(Mode mode, int status = 200) {
    std::lock_guard lock(mutex_);
    mode_ = mode;
    status_ = status;
  }
  void set_expires_in(int seconds) {
    std::lock_guard lock(mutex_);
    expires_in_ = seconds;
  }
  // The token endpoint never answers (until the server stops).
  void stall_tokens() {
    std::lock_guard lock(mutex_);
    stall_tokens_ = true;
  }
  void reject_next_posts(int n) {
    std::lock_guard lock(mutex_);
    reject_posts_ = n;
  }
  void set_huge_bytes(size_t n) {
    std::lock_guard lock(mutex_);
    huge_bytes_ = n;
  }
  // Closes every open HTTP connection (as a server's idle timeout would) and listens again on
  // the same port; returns once done.
  void drop_connections() {
    std::unique_lock lock(mutex_);
    dropped_ = false;
    lock.unlock();
    uv_async_send(&drop_);
    lock.lock();
    dropped_cv_.wait(lock, [&] { return dropped_; });
  }
  Seen seen() const {
    std::lock_guard lock(mutex_);
    return seen_;
  }
  std::string drop_error() const {
    std::lock_guard lock(mutex_);
    return drop_error_;
  }

 private:
  void drop() {
    server_->close();
    std::string error;
    if (Status s = server_->listen({host_, port_}); !s) error = s.error().text;
    std::lock_guard lock(mutex_);
    drop_error_ = error;
    dropped_ = true;
    dropped_cv_.notify_all();
  }

  std::string scheme() const { return https_ ? "https://" : "http://"; }

  std::string open() {
    http::HttpServerOptions options;
    if (https_) options.listener.tls = tls_;
    options.max_body_bytes = 64 * 1024 * 1024;
    server_ = std::make_unique<http::HttpServer>(&loop_, options);
    server_->route("POST", "/oauth/token", [this](const http::HttpRequest& r) { return token(r); });
    server_->route("POST", "/api/v2/journey/actiontargets/bulk", [this](const http::HttpRequest& r) { return bulk(r); });
    if (Status s = server_->listen({host_, 0}); !s) return s.error().text;
    port_ = server_->port();
    auto proxy = net::Listener::listen(&loop_, {"127.0.0.1", 0}, {}, [this](std::shared_ptr<net::Connection> c) {
      tunnel(std::move(c));
    });
    if (!proxy) return proxy.error().text;
    proxy_ = std::move(*proxy);
    proxy_port_ = proxy_->port();
    return {};
  }

  void stop() {
    if (!thread_.joinable()) return;
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    released_.notify_all();
    uv_async_send(&stop_);
    thread_.join();
    uv_run(&loop_, UV_RUN_NOWAIT);
    uv_loop_close(&loop_);
  }

  void shut_down() {
    if (server_) server_->close();
    if (proxy_) proxy_->close();
    for (auto& c : pipes_) {
      c->clear_callbacks();
      c->abort("test server stopped");
    }
    pipes_.clear();
    uv_close(reinterpret_cast<uv_handle_t*>(&stop_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&drop_), nullptr);
  }

  http::HttpResponse token(const http::HttpRequest& request) {
    std::unique_lock lock(mutex_);
    ++seen_.token_requests;
    if (stall_tokens_) {
      released_.wait(lock, [&] { return stopping_; });
      return http::HttpResponse::json(503, R"({"error":"stopping"})");
    }
    const std::string* auth = request.header("authorization");
    // base64("engagement-client:s3cret")
    if (auth == nullptr || *auth != "Basic ZW5nYWdlbWVudC1jbGllbnQ6czNjcmV0" || request.body != "grant_type=client_credentials") {
      return http::HttpResponse::json(401, R"({"error":"invalid_client"})");
    }
    current_token_ = "token-" + std::to_string(seen_.token_requests);
    return http::HttpResponse::json(
        200, nlohmann::json{{"access_token", current_token_}, {"token_type", "bearer"}, {"expires_in", expires_in_}}.dump());
  }

  http::HttpResponse bulk(const http::HttpRequest& request) {
    std::unique_lock lock(mutex_);
    ++seen_.bulk_requests;
    const std::string* auth = request.header("authorization");
    seen_.last_authorization = auth ? *auth : "";
    seen_.last_fencing = request.header("x-pacing-fencing-token") ? *request.header("x-pacing-fencing-token") : "";
    seen_.last_node = request.header("x-pacing-node") ? *request.header("x-pacing-node") : "";
    if (auth == nullptr || *auth != "Bearer " + current_token_ || current_token_.empty()) {
      ++seen_.rejected_tokens;
      return http::HttpResponse::json(401, R"({"error":"invalid_token"})");
    }
    if (reject_posts_ > 0) {
      --reject_posts_;
      ++seen_.rejected_tokens;
      return http::HttpResponse::json(401, R"({"error":"token expired"})");
    }
    nlohmann::json body = nlohmann::json::parse(request.body, nullptr, false);
    if (!body.is_object() || !body["targets"].is_array()) return http::HttpResponse::json(400, R"({"error":"bad body"})");
    seen_.last_targets = body["targets"].size();
    nlohmann::json targets = nlohmann::json::array();
    for (const auto& t : body["targets"]) {
      targets.push_back({{"id", t["id"]}, {"pendingInvitations", t["invitationsAllowed"].get<int64_t>() + 1}});
    }
    switch (mode_) {
      case Mode::kEcho:
        return http::HttpResponse::json(200, nlohmann::json{{"targets", targets}}.dump());
      case Mode::kStatus:
        return http::HttpResponse::json(status_, R"({"error":"the test said so"})");
      case Mode::kStall:
        released_.wait(lock, [&] { return stopping_; });
        return http::HttpResponse::json(503, R"({"error":"stopping"})");
      case Mode::kInvalidJson:
        return http::HttpResponse::json(200, R"({"targets": [ {"id": )");
      case Mode::kWrongType:
        targets[0]["pendingInvitations"] = "2";
        return http::HttpResponse::json(200, nlohmann::json{{"targets", targets}}.dump());
      case Mode::kUnknownId:
        targets.push_back({{"id", "Nobody - chat"}, {"pendingInvitations", 1}});
        return http::HttpResponse::json(200, nlohmann::json{{"targets", targets}}.dump());
      case Mode::kTargetErrors: {
        nlohmann::json errors = nlohmann::json::array();
        errors.push_back({{"id", targets[0]["id"]}, {"code", "target.unknown"}, {"message", "no such target"}});
        return http::HttpResponse::json(200, nlohmann::json{{"targets", targets}, {"errors", errors}}.dump());
      }
      case Mode::kHuge:
        return http::HttpResponse::json(200, std::string(huge_bytes_, ' ') + "{}");
    }
    return http::HttpResponse::json(500, "{}");
  }

  // The forward proxy: reads "CONNECT host:port HTTP/1.1 ... \r\n\r\n", connects, answers 200
  // and then copies bytes both ways.
  void tunnel(std::shared_ptr<net::Connection> client) {
    auto head = std::make_shared<std::string>();
    std::weak_ptr<net::Connection> weak_client = client;
    pipes_.insert(client);
    client->set_on_close([this, c = client.get()](const std::string&) { erase(c); });
    client->set_on_data([this, head, weak_client](std::span<const uint8_t> data) {
      // Copies first: the last statement replaces this very callback.
      EngagementTestServer* self = this;
      auto c = weak_client.lock();
      if (!c) return;
      head->append(reinterpret_cast<const char*>(data.data()), data.size());
      const size_t end = head->find("\r\n\r\n");
      if (end == std::string::npos) return;
      const std::string line = head->substr(0, head->find("\r\n"));
      {
        std::lock_guard lock(self->mutex_);
        self->seen_.connect_lines.push_back(line);
      }
      const size_t space = line.find(' ', 8);
      auto endpoint = net::parse_endpoint(line.substr(8, space - 8));
      sockaddr_storage address{};
      if (!line.starts_with("CONNECT ") || !endpoint) {
        c->write(as_bytes("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"));
        c->close("not CONNECT");
        return;
      }
      address = *net::numeric_address(*endpoint);
      auto upstream = net::Connection::connect(&self->loop_, reinterpret_cast<sockaddr*>(&address), {}, nullptr);
      self->pipes_.insert(upstream);
      std::weak_ptr<net::Connection> weak_upstream = upstream;
      upstream->set_on_open([weak_client] {
        if (auto cl = weak_client.lock()) cl->write(as_bytes("HTTP/1.1 200 Connection established\r\n\r\n"));
      });
      upstream->set_on_data([weak_client](std::span<const uint8_t> d) {
        if (auto cl = weak_client.lock()) cl->write(d);
      });
      upstream->set_on_close([self, weak_client, u = upstream.get()](const std::string&) {
        self->erase(u);
        if (auto cl = weak_client.lock()) cl->close("upstream closed");
      });
      c->set_on_close([self, weak_upstream, cp = c.get()](const std::string&) {
        self->erase(cp);
        if (auto up = weak_upstream.lock()) up->close("client closed");
      });
      c->set_on_data([weak_upstream](std::span<const uint8_t> d) {
        if (auto up = weak_upstream.lock()) up->write(d);
      });
    });
    client->start();
  }

  void erase(net::Connection* c) {
    for (auto it = pipes_.begin(); it != pipes_.end(); ++it) {
      if (it->get() == c) {
        pipes_.erase(it);
        return;
      }
    }
  }

  static std::span<const uint8_t> as_bytes(const char* text) {
    return {reinterpret_cast<const uint8_t*>(text), std::strlen(text)};
  }

  std::string host_;
  bool https_;
  std::shared_ptr<net::TlsContext> tls_;
  uv_loop_t loop_{};
  uv_async_t stop_{};
  uv_async_t drop_{};
  std::thread thread_;
  std::unique_ptr<http::HttpServer> server_;
  std::unique_ptr<net::Listener> proxy_;
  std::set<std::shared_ptr<net::Connection>> pipes_;
  uint16_t port_ = 0;
  uint16_t proxy_port_ = 0;

  mutable std::mutex mutex_;
  std::condition_variable released_;
  bool stopping_ = false;
  Mode mode_ = Mode::kEcho;
  int status_ = 200;
  int expires_in_ = 3600;
  int reject_posts_ = 0;
  bool stall_tokens_ = false;
  bool dropped_ = false;
  std::string drop_error_;
  std::condition_variable dropped_cv_;
  size_t huge_bytes_ = 0;
  std::string current_token_;
  Seen seen_;
};

}  // namespace ix::test
