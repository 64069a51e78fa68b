#include "proxy/pacing/engagement/http_exchange.h"

#include <llhttp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <cstring>

#include "protocol/net/connection.h"

namespace ix::pacing {

namespace {

constexpr size_t kMaxTunnelAnswer = 16 * 1024;

Error failure(ExchangeFailure kind, std::string text) { return Error{static_cast<int>(kind), std::move(text)}; }

}  // namespace

// A host name on libuv's thread pool; outlives a cancelled exchange until its callback ran.
struct HttpExchange::Resolve {
  uv_getaddrinfo_t request;
  HttpExchange* owner;  // null once the exchange finished or was cancelled
};

// The llhttp response parser and the answer it assembles.
struct HttpExchange::Parser {
  llhttp_t parser;
  llhttp_settings_t settings;
  HttpAnswer answer;
  bool in_value = false;
  bool complete = false;
  bool too_large = false;
  size_t limit = 0;
  size_t header_bytes = 0;

  static Parser* self(llhttp_t* p) { return static_cast<Parser*>(p->data); }

  explicit Parser(size_t max_bytes) : limit(max_bytes) {
    llhttp_settings_init(&settings);
    settings.on_header_field = [](llhttp_t* p, const char* at, size_t n) {
      Parser* s = self(p);
      if (s->in_value || s->answer.headers.empty()) s->answer.headers.emplace_back();
      s->in_value = false;
      for (size_t i = 0; i < n; ++i) {
        s->answer.headers.back().first += static_cast<char>(std::tolower(static_cast<unsigned char>(at[i])));
      }
      return s->count(n);
    };
    settings.on_header_value = [](llhttp_t* p, const char* at, size_t n) {
      Parser* s = self(p);
      s->in_value = true;
      if (s->answer.headers.empty()) s->answer.headers.emplace_back();
      s->answer.headers.back().second.append(at, n);
      return s->count(n);
    };
    settings.on_headers_complete = [](llhttp_t* p) {
      Parser* s = self(p);
      s->answer.status = p->status_code;
      if (p->content_length != ULLONG_MAX && s->header_bytes + p->content_length > s->limit) {
        s->too_large = true;
        return -1;
      }
      if (p->content_length != ULLONG_MAX && p->content_length > 0) s->answer.body.reserve(p->content_length);
      return 0;
    };
    settings.on_body = [](llhttp_t* p, const char* at, size_t n) {
      Parser* s = self(p);
      if (s->header_bytes + s->answer.body.size() + n > s->limit) {
        s->too_large = true;
        return -1;
      }
      s->answer.body.append(at, n);
      return 0;
    };
    settings.on_message_complete = [](llhttp_t* p) {
      Parser* s = self(p);
      if (p->status_code >= 100 && p->status_code < 200) {  // an interim answer: the real one follows
        s->answer = HttpAnswer{};
        s->header_bytes = 0;
        return 0;
      }
      s->complete = true;
      return static_cast<int>(HPE_PAUSED);
    };
    llhttp_init(&parser, HTTP_RESPONSE, &settings);
    parser.data = this;
  }

  int count(size_t n) {
    header_bytes += n;
    if (header_bytes > limit) {
      too_large = true;
      return -1;
    }
    return 0;
  }
};

std::shared_ptr<HttpExchange> HttpExchange::start(uv_loop_t* loop, HttpCall call, const TransportSettings& settings,
                                                  Clock::time_point deadline, Callback callback) {
  std::shared_ptr<HttpExchange> exchange(new HttpExchange(loop, std::move(call), settings, std::move(callback)));
  exchange->self_ = exchange;
  exchange->begin(deadline);
  return exchange;
}

HttpExchange::HttpExchange(uv_loop_t* loop, HttpCall call, const TransportSettings& settings, Callback callback)
    : loop_(loop),
      call_(std::move(call)),
      settings_(settings),
      callback_(std::move(callback)),
      deadline_timer_(loop),
      connect_timer_(loop),
      parser_(std::make_unique<Parser>(settings.max_response_bytes)) {}

HttpExchange::~HttpExchange() {
  if (resolving_ != nullptr) resolving_->owner = nullptr;
  if (connection_) {
    connection_->clear_callbacks();
    connection_->abort("exchange destroyed");
  }
  if (ssl_ != nullptr) SSL_free(ssl_);  // frees both BIOs too
}

std::string HttpExchange::where() const {
  if (settings_.forward_proxy && stage_ <= Stage::kTunnel) {
    return call_.url.text + " (via forward proxy " + settings_.forward_proxy->to_string() + ")";
  }
  return call_.url.text;
}

std::string HttpExchange::stage_name() const {
  switch (stage_) {
    case Stage::kResolving: return "resolving the host";
    case Stage::kConnecting: return "connecting";
    case Stage::kTunnel: return "opening the forward proxy tunnel";
    case Stage::kHandshake: return "in the TLS handshake";
    case Stage::kResponse: return "waiting for the response";
    case Stage::kDone: return "done";
  }
  return "";
}

void HttpExchange::begin(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  if (left <= 0) {
    finish_later(failure(ExchangeFailure::kTimeout, call_.url.text + ": no time left before the deadline"));
    return;
  }
  timeout_ms_ = static_cast<uint64_t>(left);
  if (call_.url.tls && !settings_.tls) {
    finish_later(failure(ExchangeFailure::kTls, call_.url.text + ": https needs a TLS context"));
    return;
  }
  deadline_timer_.start(timeout_ms_, [this] {
    auto keep = self_;
    fail(ExchangeFailure::kTimeout, "timed out after " + std::to_string(timeout_ms_) + " ms " + stage_name());
  });
  origin_ = std::string(call_.url.tls ? "https://" : "http://") + call_.url.authority() +
            (settings_.forward_proxy ? " via " + settings_.forward_proxy->to_string() : "");
  if (settings_.idle) {
    if (auto kept = settings_.idle->take(origin_, uv_now(loop_))) {
      adopt(std::move(kept));
      return;
    }
  }
  open_fresh();
}

void HttpExchange::open_fresh() {
  stage_ = Stage::kResolving;
  if (settings_.connect_timeout_ms > 0 && settings_.connect_timeout_ms < timeout_ms_) {
    connect_timer_.start(settings_.connect_timeout_ms, [this] {
      auto keep = self_;
      const std::string after = std::to_string(settings_.connect_timeout_ms) + " ms (connect timeout)";
      if (stage_ == Stage::kResolving) fail(ExchangeFailure::kResolve, "cannot resolve the host within " + after);
      if (stage_ == Stage::kConnecting) fail(ExchangeFailure::kConnect, "cannot connect: no connection within " + after);
    });
  }
  net::Endpoint target = settings_.forward_proxy ? *settings_.forward_proxy
                                                 : net::Endpoint{call_.url.host, call_.url.port};
  if (auto numeric = net::numeric_address(target)) {
    sockaddr_storage address = *numeric;
    connect_to(reinterpret_cast<const sockaddr*>(&address));
    return;
  }
  resolving_ = new Resolve{{}, this};
  resolving_->request.data = resolving_;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  int rc = uv_getaddrinfo(loop_, &resolving_->request, [](uv_getaddrinfo_t* req, int status, addrinfo* result) {
    auto* resolve = static_cast<Resolve*>(req->data);
    HttpExchange* owner = resolve->owner;
    delete resolve;
    if (owner == nullptr) {
      uv_freeaddrinfo(result);
      return;
    }
    owner->resolving_ = nullptr;
    auto keep = owner->self_;
    if (status != 0 || result == nullptr) {
      uv_freeaddrinfo(result);
      owner->fail(ExchangeFailure::kResolve, std::string("cannot resolve the host: ") + uv_strerror(status));
      return;
    }
    sockaddr_storage address{};
    std::memcpy(&address, result->ai_addr, std::min<size_t>(result->ai_addrlen, sizeof address));
    uv_freeaddrinfo(result);
    owner->connect_to(reinterpret_cast<const sockaddr*>(&address));
  }, target.host.c_str(), std::to_string(target.port).c_str(), &hints);
  if (rc != 0) {
    delete resolving_;
    resolving_ = nullptr;
    finish_later(failure(ExchangeFailure::kResolve,
                         where() + ": cannot resolve " + target.host + ": " + uv_strerror(rc)));
  }
}

void HttpExchange::adopt(std::unique_ptr<KeptConnection> kept) {
  reused_ = true;
  connection_ = std::move(kept->connection);
  ssl_ = kept->ssl;
  kept->ssl = nullptr;
  if (ssl_ != nullptr) {
    tls_in_ = SSL_get_rbio(ssl_);
    tls_out_ = SSL_get_wbio(ssl_);
  }
  watch_connection();
  send_request();
}

// The kept connection was stale (closed or broken before any answer arrived): the request is
// sent again on a new connection, once, within the same deadline.
bool HttpExchange::retry_fresh() {
  if (!reused_ || response_bytes_ > 0 || stage_ != Stage::kResponse) return false;
  reused_ = false;
  if (connection_) {
    connection_->abort("stale keep-alive connection");
    connection_.reset();
  }
  if (ssl_ != nullptr) SSL_free(ssl_);
  ssl_ = nullptr;
  tls_in_ = tls_out_ = nullptr;
  parser_ = std::make_unique<Parser>(settings_.max_response_bytes);
  open_fresh();
  return true;
}

void HttpExchange::connect_to(const sockaddr* address) {
  stage_ = Stage::kConnecting;
  net::ConnectionOptions options;
  options.connect_timeout_ms = 0;  // connect_timer_ and the deadline bound it
  options.idle_timeout_ms = 0;  // the deadline bounds the whole exchange
  options.close_linger_ms = 100;
  connection_ = net::Connection::connect(loop_, address, options, nullptr);
  watch_connection();
}

void HttpExchange::watch_connection() {
  // Weak captures: a late callback after the exchange finished finds nothing; a running one
  // keeps the exchange alive until it returns, whatever the user's callback released. Only the
  // exchange's current connection is heard: a stale kept one it replaced may still close later.
  std::weak_ptr<HttpExchange> weak = weak_from_this();
  const net::Connection* current = connection_.get();
  connection_->set_on_open([weak, current] {
    if (auto self = weak.lock(); self && self->connection_.get() == current) self->on_open();
  });
  connection_->set_on_data([weak, current](std::span<const uint8_t> data) {
    if (auto self = weak.lock(); self && self->connection_.get() == current) self->on_data(data.data(), data.size());
  });
  connection_->set_on_close([weak, current](const std::string& reason) {
    if (auto self = weak.lock(); self && self->connection_.get() == current) self->on_closed(reason);
  });
}

void HttpExchange::on_open() {
  connect_timer_.stop();
  if (settings_.forward_proxy) {
    send_connect();
  } else if (call_.url.tls) {
    start_tls();
  } else {
    send_request();
  }
}

void HttpExchange::on_data(const uint8_t* data, size_t size) {
  switch (stage_) {
    case Stage::kTunnel: on_tunnel_data(data, size); return;
    case Stage::kHandshake: on_tls_data(data, size); return;
    case Stage::kResponse:
      if (ssl_ != nullptr) {
        on_tls_data(data, size);
      } else {
        on_response_data(reinterpret_cast<const char*>(data), size);
      }
      return;
    default: return;
  }
}

void HttpExchange::on_closed(const std::string& reason) {
  connection_.reset();
  end_of_stream(reason);
}

void HttpExchange::end_of_stream(const std::string& reason) {
  switch (stage_) {
    case Stage::kConnecting:
      fail(ExchangeFailure::kConnect, "cannot connect: " + reason);
      return;
    case Stage::kTunnel:
      fail(ExchangeFailure::kForwardProxy, "the forward proxy closed the connection before the tunnel opened: " + reason);
      return;
    case Stage::kHandshake:
      fail(ExchangeFailure::kTls, "TLS handshake failed: " + reason);
      return;
    case Stage::kResponse:
      if (retry_fresh()) return;
      // A response delimited by the end of the connection ends here.
      if (llhttp_finish(&parser_->parser) == HPE_OK && parser_->complete) {
        finish(std::move(parser_->answer));
        return;
      }
      fail(ExchangeFailure::kProtocol, "the connection closed before the response was complete: " + reason);
      return;
    default:
      return;
  }
}

void HttpExchange::send_connect() {
  stage_ = Stage::kTunnel;
  const std::string authority = (call_.url.host.find(':') != std::string::npos ? "[" + call_.url.host + "]" : call_.url.host) +
                                ":" + std::to_string(call_.url.port);
  write_plain("CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority + "\r\n\r\n");
}

void HttpExchange::on_tunnel_data(const uint8_t* data, size_t size) {
  tunnel_answer_.append(reinterpret_cast<const char*>(data), size);
  const size_t end = tunnel_answer_.find("\r\n\r\n");
  if (end == std::string::npos) {
    if (tunnel_answer_.size() > kMaxTunnelAnswer) {
      fail(ExchangeFailure::kForwardProxy, "the forward proxy's answer to CONNECT exceeds 16 KiB");
    }
    return;
  }
  const std::string status_line = tunnel_answer_.substr(0, tunnel_answer_.find("\r\n"));
  int status = 0;
  if (status_line.starts_with("HTTP/1.") && status_line.size() >= 12) status = std::atoi(status_line.c_str() + 9);
  if (status < 200 || status > 299) {
    fail(ExchangeFailure::kForwardProxy, "the forward proxy refused CONNECT: \"" + status_line + "\"");
    return;
  }
  std::string rest = tunnel_answer_.substr(end + 4);
  tunnel_answer_.clear();
  if (call_.url.tls) {
    start_tls();
    if (!rest.empty() && stage_ == Stage::kHandshake) on_tls_data(reinterpret_cast<const uint8_t*>(rest.data()), rest.size());
  } else {
    send_request();
    if (!rest.empty()) on_response_data(rest.data(), rest.size());
  }
}

void HttpExchange::start_tls() {
  stage_ = Stage::kHandshake;
  ssl_ = SSL_new(settings_.tls->native());
  tls_in_ = BIO_new(BIO_s_mem());
  tls_out_ = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl_, tls_in_, tls_out_);
  SSL_set_connect_state(ssl_);
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl_);
  if (call_.url.host_is_ip()) {
    // RFC 6066: no SNI for an address; the certificate must name the address (an IP SAN).
    X509_VERIFY_PARAM_set1_ip_asc(param, call_.url.host.c_str());
  } else {
    SSL_set_tlsext_host_name(ssl_, call_.url.host.c_str());
    X509_VERIFY_PARAM_set1_host(param, call_.url.host.data(), call_.url.host.size());
  }
  SSL_do_handshake(ssl_);  // the ClientHello
  pump_tls_output();
}

void HttpExchange::on_tls_data(const uint8_t* data, size_t size) {
  BIO_write(tls_in_, data, static_cast<int>(size));
  if (stage_ == Stage::kHandshake) {
    int rc = SSL_do_handshake(ssl_);
    pump_tls_output();
    if (rc != 1) {
      if (SSL_get_error(ssl_, rc) == SSL_ERROR_WANT_READ) return;
      const long verify = SSL_get_verify_result(ssl_);
      std::string why = verify != X509_V_OK
                            ? std::string("certificate verification failed: ") + X509_verify_cert_error_string(verify)
                            : net::last_tls_error();
      ERR_clear_error();
      fail(ExchangeFailure::kTls, "TLS handshake failed: " + why);
      return;
    }
    send_request();
  }
  char plain[16 * 1024];
  while (stage_ == Stage::kResponse) {
    int n = SSL_read(ssl_, plain, sizeof plain);
    if (n > 0) {
      on_response_data(plain, static_cast<size_t>(n));
      continue;
    }
    int error = SSL_get_error(ssl_, n);
    if (error == SSL_ERROR_WANT_READ) break;
    if (error == SSL_ERROR_ZERO_RETURN) {  // close_notify: as if the connection ended
      end_of_stream("the peer closed the TLS session");
      return;
    }
    const std::string why = "TLS error: " + net::last_tls_error();
    if (retry_fresh()) return;
    fail(ExchangeFailure::kProtocol, why);
    return;
  }
  if (stage_ != Stage::kDone) pump_tls_output();
}

void HttpExchange::pump_tls_output() {
  // Straight from the memory BIO into the connection's output (one copy, no zero-filled buffer).
  const uint8_t* cipher = nullptr;
  size_t size = 0;
  if (!connection_ || BIO_mem_contents(tls_out_, &cipher, &size) != 1 || size == 0) return;
  connection_->write(std::span<const uint8_t>(cipher, size));
  BIO_reset(tls_out_);
}

void HttpExchange::write_plain(std::string_view bytes) {
  if (ssl_ != nullptr) {
    // SSL_write takes an int; a memory BIO takes everything, so each call writes it all.
    constexpr size_t kChunk = 1 << 20;
    for (size_t at = 0; at < bytes.size(); at += kChunk) {
      const size_t n = std::min(kChunk, bytes.size() - at);
      SSL_write(ssl_, bytes.data() + at, static_cast<int>(n));
    }
    pump_tls_output();
  } else {
    connection_->write(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
  }
}

void HttpExchange::send_request() {
  stage_ = Stage::kResponse;
  const size_t body_size = call_.body ? call_.body->size() : 0;
  std::string head;
  head += call_.method + " " + call_.url.target + " HTTP/1.1\r\n";
  head += "Host: " + call_.url.authority() + "\r\n";
  for (const auto& [name, value] : call_.headers) head += name + ": " + value + "\r\n";
  head += "Content-Length: " + std::to_string(body_size) + "\r\n";
  head += settings_.idle ? "\r\n" : "Connection: close\r\n\r\n";  // HTTP/1.1 keeps alive by default
  write_plain(head);
  if (body_size > 0) write_plain(*call_.body);
}

void HttpExchange::on_response_data(const char* data, size_t size) {
  response_bytes_ += size;
  llhttp_errno_t rc = llhttp_execute(&parser_->parser, data, size);
  if (parser_->complete) {
    // Reusable: the server keeps it alive and nothing follows the answer.
    keep_alive_ = settings_.idle && llhttp_should_keep_alive(&parser_->parser) != 0 &&
                  llhttp_get_error_pos(&parser_->parser) == data + size &&
                  (ssl_ == nullptr || (SSL_pending(ssl_) == 0 && BIO_pending(tls_in_) == 0));
    finish(std::move(parser_->answer));
    return;
  }
  if (rc == HPE_OK) return;
  if (parser_->too_large) {
    fail(ExchangeFailure::kTooLarge,
         "the response exceeds the limit of " + std::to_string(settings_.max_response_bytes) + " bytes");
    return;
  }
  const char* reason = llhttp_get_error_reason(&parser_->parser);
  fail(ExchangeFailure::kProtocol, std::string("malformed HTTP response: ") + llhttp_errno_name(rc) +
                                       (reason ? std::string(": ") + reason : std::string()));
}

void HttpExchange::fail(ExchangeFailure kind, const std::string& what) {
  finish(failure(kind, where() + ": " + what));
}

void HttpExchange::finish(Result<HttpAnswer> result) {
  if (stage_ == Stage::kDone) return;
  stage_ = Stage::kDone;
  std::shared_ptr<HttpExchange> keep = std::move(self_);
  deadline_timer_.stop();
  connect_timer_.stop();
  if (resolving_ != nullptr) {
    resolving_->owner = nullptr;
    uv_cancel(reinterpret_cast<uv_req_t*>(&resolving_->request));
    resolving_ = nullptr;
  }
  if (connection_ && result.ok() && keep_alive_ && connection_->is_open()) {
    auto kept = std::make_unique<KeptConnection>();
    kept->connection = std::move(connection_);
    kept->ssl = ssl_;
    kept->idle_since_ms = uv_now(loop_);
    ssl_ = nullptr;
    settings_.idle->put(origin_, std::move(kept));
  }
  if (connection_) {
    connection_->abort("");  // its late on_close finds this exchange done (or gone)
    connection_.reset();
  }
  Callback callback = std::move(callback_);
  callback_ = nullptr;
  if (callback) callback(std::move(result));
}

void HttpExchange::finish_later(Result<HttpAnswer> result) {
  // Never call back from inside start(): the deadline timer delivers the answer on the next turn.
  auto shared = std::make_shared<Result<HttpAnswer>>(std::move(result));
  deadline_timer_.start(0, [this, shared] {
    auto keep = self_;
    Result<HttpAnswer> r = std::move(*shared);
    finish(std::move(r));
  });
}

void HttpExchange::cancel() {
  callback_ = nullptr;
  finish(failure(ExchangeFailure::kTimeout, "cancelled"));
}

}  // namespace ix::pacing
