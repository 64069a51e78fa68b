#include "protocol/net/connection.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cassert>
#include <csignal>
#include <mutex>

namespace ix::net {

namespace {

// The subject's common name, then every DNS subject alternative name.
std::vector<std::string> certificate_names(X509* cert) {
  std::vector<std::string> names;
  X509_NAME* subject = X509_get_subject_name(cert);
  for (int i = X509_NAME_get_index_by_NID(subject, NID_commonName, -1); i >= 0;
       i = X509_NAME_get_index_by_NID(subject, NID_commonName, i)) {
    const ASN1_STRING* value = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, i));
    names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(value)),
                       static_cast<size_t>(ASN1_STRING_length(value)));
  }
  bssl::UniquePtr<GENERAL_NAMES> alt_names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  for (size_t i = 0; alt_names && i < sk_GENERAL_NAME_num(alt_names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(alt_names.get(), i);
    if (name->type != GEN_DNS) continue;
    names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(name->d.dNSName)),
                       static_cast<size_t>(ASN1_STRING_length(name->d.dNSName)));
  }
  return names;
}

constexpr size_t kReadBufferSize = 64 * 1024;

// One read buffer per loop thread: libuv hands it to exactly one read callback at a time and
// every callback consumes it before returning.
void alloc_read_buffer(uv_handle_t*, size_t, uv_buf_t* buf) {
  thread_local std::unique_ptr<char[]> buffer(new char[kReadBufferSize]);
  *buf = uv_buf_init(buffer.get(), kReadBufferSize);
}

Connection* owner(void* data) { return static_cast<Connection*>(data); }

// A write to a peer that has gone away must end in on_close with the reason (EPIPE), not kill
// the process: SIGPIPE is ignored in every process that opens a connection, unless the process
// already handles it itself.
void ignore_sigpipe_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction current {};
    if (::sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) ::signal(SIGPIPE, SIG_IGN);
  });
}

std::string uv_error_text(int status) { return std::string(uv_strerror(status)); }

}  // namespace

struct Connection::WriteRequest {
  uv_write_t request;
  std::vector<uint8_t> data;
  size_t accounted;  // bytes of queued_bytes_ this write releases
  size_t offset;     // bytes of data already written by uv_try_write
};

Connection::Connection(uv_loop_t* loop, const ConnectionOptions& options,
                       std::shared_ptr<TlsContext> tls)
    : loop_(loop), options_(options), tls_context_(std::move(tls)) {
  ignore_sigpipe_once();
  uv_tcp_init(loop_, &tcp_);
  uv_prepare_init(loop_, &flush_handle_);
  uv_timer_init(loop_, &idle_timer_);
  uv_timer_init(loop_, &deadline_timer_);
  handles_open_ = 4;
  tcp_.data = flush_handle_.data = idle_timer_.data = deadline_timer_.data = this;
  connect_request_.data = shutdown_request_.data = this;
}

Connection::~Connection() {
  assert(handles_open_ == 0);
  if (ssl_ != nullptr) SSL_free(ssl_);  // frees both BIOs too
}

std::shared_ptr<Connection> Connection::accept(uv_stream_t* server, const ConnectionOptions& options,
                                               std::shared_ptr<TlsContext> tls) {
  std::shared_ptr<Connection> c(new Connection(server->loop, options, std::move(tls)));
  c->self_ = c;
  if (uv_accept(server, reinterpret_cast<uv_stream_t*>(&c->tcp_)) != 0) {
    c->abort("accept failed");
    return nullptr;
  }
  uv_tcp_nodelay(&c->tcp_, 1);
  c->note_peer();
  if (c->tls_context_) {
    c->init_tls();
    c->state_ = State::kHandshaking;
  } else {
    c->state_ = State::kOpen;
  }
  return c;
}

std::shared_ptr<Connection> Connection::connect(uv_loop_t* loop, const sockaddr* address,
                                                const ConnectionOptions& options,
                                                std::shared_ptr<TlsContext> tls) {
  std::shared_ptr<Connection> c(new Connection(loop, options, std::move(tls)));
  c->self_ = c;
  c->state_ = State::kConnecting;
  int rc = uv_tcp_connect(&c->connect_request_, &c->tcp_, address, [](uv_connect_t* req, int status) {
    owner(req->data)->on_connected(status);
  });
  if (rc != 0) {
    c->abort("connect failed: " + uv_error_text(rc));
    return c;
  }
  if (options.connect_timeout_ms > 0) {
    uv_timer_start(&c->deadline_timer_, [](uv_timer_t* t) {
      owner(t->data)->abort("connect timed out");
    }, options.connect_timeout_ms, 0);
  }
  return c;
}

void Connection::init_tls() {
  ssl_ = SSL_new(tls_context_->native());
  tls_in_ = BIO_new(BIO_s_mem());
  tls_out_ = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl_, tls_in_, tls_out_);
  if (tls_context_->is_server()) {
    SSL_set_accept_state(ssl_);
  } else {
    SSL_set_connect_state(ssl_);
    const std::string& name = tls_context_->server_name();
    if (!name.empty()) {
      SSL_set_tlsext_host_name(ssl_, name.c_str());
      X509_VERIFY_PARAM_set1_host(SSL_get0_param(ssl_), name.data(), name.size());
    }
  }
}

void Connection::note_peer() {
  sockaddr_storage address{};
  int length = sizeof address;
  if (uv_tcp_getpeername(&tcp_, reinterpret_cast<sockaddr*>(&address), &length) != 0) return;
  char host[64] = {};
  int port = 0;
  if (address.ss_family == AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(&address);
    uv_ip4_name(in, host, sizeof host);
    port = ntohs(in->sin_port);
    peer_ = std::string(host) + ":" + std::to_string(port);
  } else if (address.ss_family == AF_INET6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&address);
    uv_ip6_name(in6, host, sizeof host);
    port = ntohs(in6->sin6_port);
    peer_ = "[" + std::string(host) + "]:" + std::to_string(port);
  }
}

void Connection::clear_callbacks() {
  on_data_ = nullptr;
  on_open_ = nullptr;
  on_close_ = nullptr;
  on_drained_ = nullptr;
}

void Connection::notify_drained() {
  if (flushing_early_ || queued_bytes_ != 0 || !on_drained_ || state_ != State::kOpen) return;
  std::function<void()> drained = std::move(on_drained_);
  on_drained_ = nullptr;
  drained();
}

void Connection::start() {
  if (state_ != State::kOpen && state_ != State::kHandshaking) return;
  last_read_ms_ = uv_now(loop_);
  if (options_.idle_timeout_ms > 0) arm_idle_timer(options_.idle_timeout_ms);
  update_reading();
}

void Connection::on_connected(int status) {
  if (state_ != State::kConnecting) return;  // aborted meanwhile (UV_ECANCELED)
  if (status != 0) {
    abort("connect failed: " + uv_error_text(status));
    return;
  }
  uv_tcp_nodelay(&tcp_, 1);
  note_peer();
  if (tls_context_) {
    init_tls();
    state_ = State::kHandshaking;
    start();
    SSL_do_handshake(ssl_);  // produces the ClientHello
    drain_tls_output(0);
    return;
  }
  uv_timer_stop(&deadline_timer_);
  state_ = State::kOpen;
  start();
  if (on_open_) on_open_();
  if (!pending_.empty()) uv_prepare_start(&flush_handle_, [](uv_prepare_t* p) { owner(p->data)->flush(); });
}

void Connection::become_open() {
  uv_timer_stop(&deadline_timer_);
  state_ = State::kOpen;
  if (on_open_) on_open_();
  flush();  // output queued during the handshake
}

void Connection::update_reading() {
  bool want = (state_ == State::kOpen || state_ == State::kHandshaking) && !user_paused_ &&
              !backpressure_paused_;
  if (want == reading_) return;
  auto* stream = reinterpret_cast<uv_stream_t*>(&tcp_);
  if (want) {
    int rc = uv_read_start(stream, alloc_read_buffer, [](uv_stream_t* s, ssize_t n, const uv_buf_t* b) {
      owner(s->data)->on_read(n, b);
    });
    if (rc != 0) {
      abort("cannot read: " + uv_error_text(rc));
      return;
    }
  } else {
    uv_read_stop(stream);
  }
  reading_ = want;
}

void Connection::pause_reading() {
  user_paused_ = true;
  update_reading();
}

void Connection::resume_reading() {
  user_paused_ = false;
  update_reading();
}

void Connection::on_read(ssize_t nread, const uv_buf_t* buf) {
  if (nread == 0) return;
  if (nread < 0) {
    abort(nread == UV_EOF ? "peer closed the connection"
                          : "read failed: " + uv_error_text(static_cast<int>(nread)));
    return;
  }
  stats_.bytes_read += static_cast<uint64_t>(nread);
  last_read_ms_ = uv_now(loop_);
  std::span<const uint8_t> data(reinterpret_cast<const uint8_t*>(buf->base), static_cast<size_t>(nread));
  if (ssl_ != nullptr) {
    on_tls_input(data);
  } else {
    deliver(data);
  }
}

void Connection::deliver(std::span<const uint8_t> data) {
  if (state_ == State::kOpen && on_data_) on_data_(data);
}

void Connection::on_tls_input(std::span<const uint8_t> data) {
  BIO_write(tls_in_, data.data(), static_cast<int>(data.size()));
  if (state_ == State::kHandshaking) {
    int rc = SSL_do_handshake(ssl_);
    drain_tls_output(0);  // handshake records (and any alert) go out first
    if (rc != 1) {
      int error = SSL_get_error(ssl_, rc);
      if (error != SSL_ERROR_WANT_READ) abort("TLS handshake failed: " + last_tls_error());
      return;
    }
    become_open();
  }
  uint8_t plain[16 * 1024];
  while (state_ == State::kOpen) {
    int n = SSL_read(ssl_, plain, sizeof plain);
    if (n > 0) {
      deliver(std::span<const uint8_t>(plain, static_cast<size_t>(n)));
      continue;
    }
    int error = SSL_get_error(ssl_, n);
    if (error == SSL_ERROR_WANT_READ) break;
    drain_tls_output(0);
    abort(error == SSL_ERROR_ZERO_RETURN ? "peer closed the connection"
                                         : "TLS error: " + last_tls_error());
    return;
  }
  drain_tls_output(0);  // post-handshake messages (tickets, key updates)
}

void Connection::write(std::vector<uint8_t>&& bytes) {
  flush_early();  // first: a failed write there ends the connection
  if (pending_.empty() && !is_closing() && !bytes.empty()) {
    const size_t size = bytes.size();
    pending_ = std::move(bytes);
    queued(size);
    return;
  }
  write(std::span<const uint8_t>(bytes));
}

void Connection::write(std::span<const uint8_t> bytes) {
  flush_early();
  if (is_closing() || bytes.empty()) return;
  if (pending_.capacity() == 0) pending_.swap(spare_);
  pending_.insert(pending_.end(), bytes.begin(), bytes.end());
  queued(bytes.size());
}

std::span<uint8_t> Connection::append(size_t size) {
  flush_early();
  if (is_closing() || size == 0) return {};
  if (pending_.capacity() == 0) pending_.swap(spare_);
  const size_t start = pending_.size();
  pending_.resize(start + size);
  queued(size);
  return {pending_.data() + start, size};
}

void Connection::queued(size_t size) {
  queued_bytes_ += size;
  stats_.max_queued_bytes = std::max(stats_.max_queued_bytes, queued_bytes_);
  if (state_ == State::kOpen) {
    uv_prepare_start(&flush_handle_, [](uv_prepare_t* p) { owner(p->data)->flush(); });
  }
  if (!backpressure_paused_ && queued_bytes_ > options_.high_watermark) {
    backpressure_paused_ = true;
    ++stats_.read_pauses;
    update_reading();
  }
}

void Connection::flush_early() {
  if (options_.flush_at_bytes == 0 || state_ != State::kOpen || writes_in_flight_ != 0) return;
  if (early_flush_at_ == 0) early_flush_at_ = options_.flush_at_bytes;
  if (pending_.size() < early_flush_at_) return;
  const size_t next = early_flush_at_ * 2;
  flushing_early_ = true;
  flush();
  flushing_early_ = false;
  early_flush_at_ = next;
  // The turn's end still flushes what follows, and runs a when_drained callback.
  if (state_ == State::kOpen) uv_prepare_start(&flush_handle_, [](uv_prepare_t* p) { owner(p->data)->flush(); });
}

void Connection::flush() {
  uv_prepare_stop(&flush_handle_);
  early_flush_at_ = 0;
  if (pending_.empty()) notify_drained();  // everything left early in this turn
  if (pending_.empty() || (state_ != State::kOpen && state_ != State::kClosing)) return;
  std::vector<uint8_t> data;
  data.swap(pending_);
  const size_t accounted = data.size();
  if (ssl_ == nullptr) {
    submit_write(std::move(data), accounted);
    return;
  }
  SSL_write(ssl_, data.data(), static_cast<int>(data.size()));
  recycle(std::move(data));
  drain_tls_output(accounted);
}

void Connection::drain_tls_output(size_t accounted) {
  size_t pending = BIO_pending(tls_out_);
  if (pending == 0) {
    queued_bytes_ -= accounted;
    notify_drained();
    return;
  }
  std::vector<uint8_t> cipher(pending);
  BIO_read(tls_out_, cipher.data(), static_cast<int>(pending));
  submit_write(std::move(cipher), accounted);
}

void Connection::submit_write(std::vector<uint8_t> data, size_t accounted) {
  if (state_ == State::kClosed) {
    queued_bytes_ -= accounted;
    return;
  }
  // Nothing in flight: write straight away (uv_try_write). When the socket takes it all — the
  // usual case on a busy connection — there is no write request, no completion callback on a
  // later turn and no change to the poll set; whatever it does not take goes through uv_write.
  size_t offset = 0;
  if (writes_in_flight_ == 0) {
    uv_buf_t whole = uv_buf_init(reinterpret_cast<char*>(data.data()), static_cast<unsigned>(data.size()));
    const int n = uv_try_write(reinterpret_cast<uv_stream_t*>(&tcp_), &whole, 1);
    if (n < 0 && n != UV_EAGAIN) {
      queued_bytes_ -= accounted;
      abort("write failed: " + uv_error_text(n));
      return;
    }
    if (n > 0) {
      offset = static_cast<size_t>(n);
      ++stats_.writes;
      stats_.bytes_written += offset;
    }
    if (offset == data.size()) {
      recycle(std::move(data));
      queued_bytes_ -= accounted;
      if (backpressure_paused_ && queued_bytes_ <= options_.low_watermark) {
        backpressure_paused_ = false;
        update_reading();
      }
      notify_drained();
      return;
    }
  }
  auto* request = new WriteRequest{{}, std::move(data), accounted, offset};
  request->request.data = this;
  uv_buf_t buf = uv_buf_init(reinterpret_cast<char*>(request->data.data() + offset),
                             static_cast<unsigned>(request->data.size() - offset));
  int rc = uv_write(&request->request, reinterpret_cast<uv_stream_t*>(&tcp_), &buf, 1,
                    [](uv_write_t* req, int status) {
                      auto* r = reinterpret_cast<WriteRequest*>(req);
                      owner(req->data)->on_write_done(r, status);
                    });
  if (rc != 0) {
    queued_bytes_ -= accounted;
    delete request;
    abort("write failed: " + uv_error_text(rc));
    return;
  }
  ++writes_in_flight_;
  ++stats_.writes;
}

void Connection::on_write_done(WriteRequest* request, int status) {
  --writes_in_flight_;
  queued_bytes_ -= request->accounted;
  stats_.bytes_written += request->data.size() - request->offset;
  recycle(std::move(request->data));
  delete request;
  if (status != 0) {
    if (status != UV_ECANCELED) abort("write failed: " + uv_error_text(status));
    return;
  }
  if (backpressure_paused_ && queued_bytes_ <= options_.low_watermark) {
    backpressure_paused_ = false;
    update_reading();
  }
  notify_drained();
  maybe_finish_graceful_close();
}

void Connection::recycle(std::vector<uint8_t>&& written) {
  // One buffer of up to 16 KiB, taken back as the next output starts (write, append): a turn's
  // larger output regrows from there in two or three steps, and an idle connection holds at most
  // this much however large its last burst was (10,000 idle clients: at most 160 MB, in practice
  // the size of their last reply).
  constexpr size_t kMaxSpareBytes = 16 * 1024;
  if (written.capacity() <= spare_.capacity() || written.capacity() > kMaxSpareBytes) return;
  written.clear();
  spare_ = std::move(written);
}

void Connection::arm_idle_timer(uint64_t timeout_ms) {
  uv_timer_start(&idle_timer_, [](uv_timer_t* t) { owner(t->data)->on_idle_timer(); }, timeout_ms, 0);
}

void Connection::on_idle_timer() {
  uint64_t idle = uv_now(loop_) - last_read_ms_;
  if (idle >= options_.idle_timeout_ms) {
    abort("idle for " + std::to_string(idle) + " ms (idle timeout " +
          std::to_string(options_.idle_timeout_ms) + " ms)");
    return;
  }
  arm_idle_timer(options_.idle_timeout_ms - idle);
}

void Connection::close(std::string reason) {
  if (is_closing()) return;
  if (state_ == State::kConnecting || state_ == State::kHandshaking) {
    abort(std::move(reason));
    return;
  }
  state_ = State::kClosing;
  close_reason_ = std::move(reason);
  update_reading();
  uv_timer_stop(&idle_timer_);
  flush();
  if (ssl_ != nullptr) {
    SSL_shutdown(ssl_);  // close_notify
    drain_tls_output(0);
  }
  uv_timer_start(&deadline_timer_, [](uv_timer_t* t) {
    owner(t->data)->abort("close timed out with undelivered output");
  }, options_.close_linger_ms, 0);
  maybe_finish_graceful_close();
}

void Connection::maybe_finish_graceful_close() {
  if (state_ != State::kClosing || writes_in_flight_ > 0 || shutdown_started_) return;
  shutdown_started_ = true;
  int rc = uv_shutdown(&shutdown_request_, reinterpret_cast<uv_stream_t*>(&tcp_),
                       [](uv_shutdown_t* req, int) { owner(req->data)->abort(""); });
  if (rc != 0) abort("");
}

void Connection::abort(std::string reason) {
  if (state_ == State::kClosed) return;
  if (close_reason_.empty()) close_reason_ = std::move(reason);
  state_ = State::kClosed;
  reading_ = false;
  close_handles();
}

void Connection::close_handles() {
  auto closed = [](uv_handle_t* h) { owner(h->data)->on_handle_closed(); };
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), closed);
  uv_close(reinterpret_cast<uv_handle_t*>(&flush_handle_), closed);
  uv_close(reinterpret_cast<uv_handle_t*>(&idle_timer_), closed);
  uv_close(reinterpret_cast<uv_handle_t*>(&deadline_timer_), closed);
}

void Connection::on_handle_closed() {
  if (--handles_open_ > 0) return;
  // Every write callback has run (libuv cancels them before the stream's close callback).
  pending_.clear();
  CloseCallback on_close = std::move(on_close_);
  clear_callbacks();
  std::shared_ptr<Connection> self = std::move(self_);
  if (on_close) on_close(close_reason_.empty() ? "closed" : close_reason_);
}

std::vector<std::string> Connection::peer_certificate_names() const {
  if (ssl_ == nullptr || SSL_in_init(ssl_)) return {};
  bssl::UniquePtr<X509> cert(SSL_get_peer_certificate(ssl_));
  // A certificate our context did not verify (no CA to verify it with) names nobody.
  if (!cert || SSL_get_verify_result(ssl_) != X509_V_OK) return {};
  return certificate_names(cert.get());
}

}  // namespace ix::net
