// Connection: one TCP stream, optionally TLS, as every ixcluster process uses it.
//
// - Writes are batched: write() appends to a pending buffer and a prepare handle flushes it
//   with one write right before the loop next blocks, however many frames were queued in
//   between. With nothing in flight the flush is a uv_try_write (no request, no callback on a
//   later turn, no change to the poll set); what the socket does not take goes out through
//   uv_write, whose buffer lives until its write callback. With cut-through (flush_at_bytes) a
//   large turn's output also leaves in a few growing pieces during the turn.
// - Backpressure: when the bytes queued for the peer pass the high watermark the connection
//   stops reading from that peer; it resumes below the low watermark. A peer that does not read
//   therefore cannot make us buffer more than about one watermark of its replies.
// - Drain: when_drained(cb) runs cb once, as soon as everything queued has been handed to the
//   socket (queued_bytes() back to 0) by a turn's end flush or a write's completion, never
//   inside write(), so a writer that holds output back (a reporting client's
//   backlog) refills the moment the connection can take more instead of polling for it.
// - Timers: an optional idle timeout (no bytes received), a connect timeout, and a bound on how
//   long a graceful close waits for queued output.
// - TLS (BoringSSL, memory BIOs) sits inside the same type and is switched on by passing a
//   TlsContext; callers see plaintext either way.
// - Lifetime: created through accept() or connect() as a shared_ptr that keeps itself alive
//   while its libuv handles are open. on_close is always the last callback, exactly once, and
//   runs from the handles' close callbacks, after which the object releases its self-reference.
//   close() and abort() are idempotent and never call back synchronously.
//
// A Connection belongs to the thread that runs its loop; nothing in it is thread-safe.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "protocol/net/tls_context.h"

struct ssl_st;
struct bio_st;

namespace ix::net {

struct ConnectionOptions {
  size_t high_watermark = 8 * 1024 * 1024;
  size_t low_watermark = 2 * 1024 * 1024;
  uint64_t idle_timeout_ms = 0;     // 0 = never time out an idle peer
  uint64_t connect_timeout_ms = 5000;
  uint64_t close_linger_ms = 2000;  // graceful close gives up on undelivered output after this
  // Cut-through (0: off): output pending at least this long goes out before the next write is
  // queued, in the middle of the loop's turn, when nothing is in flight; each further piece in
  // the same turn waits for twice as much; the rest goes at the turn's end as usual. A forwarder
  // that cuts a large read into many frames thus hands the first ones on while it still works
  // on the rest, instead of moving the whole batch as one block through every hop.
  size_t flush_at_bytes = 0;
};

struct ConnectionStats {
  uint64_t bytes_read = 0;
  uint64_t bytes_written = 0;
  uint64_t writes = 0;          // write system calls: fewer than frames when batching works
  uint64_t read_pauses = 0;     // times backpressure stopped reading
  size_t max_queued_bytes = 0;  // high-water mark of the output queue
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  using DataCallback = std::function<void(std::span<const uint8_t>)>;
  using OpenCallback = std::function<void()>;
  using CloseCallback = std::function<void(const std::string& reason)>;

  // Accepts a pending connection from a listening stream. Returns nullptr if accept failed.
  // Reading starts with start(), so that callbacks can be set first.
  static std::shared_ptr<Connection> accept(uv_stream_t* server, const ConnectionOptions& options,
                                            std::shared_ptr<TlsContext> tls);
  // Starts connecting. on_open runs once the connection is usable (TCP connected and, with TLS,
  // the handshake done); a failure or timeout ends in on_close with the reason instead.
  static std::shared_ptr<Connection> connect(uv_loop_t* loop, const sockaddr* address,
                                             const ConnectionOptions& options,
                                             std::shared_ptr<TlsContext> tls);

  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void set_on_data(DataCallback cb) { on_data_ = std::move(cb); }
  void set_on_open(OpenCallback cb) { on_open_ = std::move(cb); }
  void set_on_close(CloseCallback cb) { on_close_ = std::move(cb); }
  // Runs cb once, the next time every queued byte has been handed to the socket (replaces an
  // earlier one not yet run). Never runs after the connection started closing. cb may write.
  void when_drained(std::function<void()> cb) { on_drained_ = std::move(cb); }
  // Drops every callback (the owner is going away); the connection still closes cleanly.
  void clear_callbacks();

  // Begins reading an accepted connection.
  void start();
  // Queues bytes for the peer; ignored once the connection is closing.
  void write(std::span<const uint8_t> bytes);
  // The same, taking over the buffer when nothing else is queued (no copy).
  void write(std::vector<uint8_t>&& bytes);
  // Queues `size` bytes that the caller writes into the returned span at once, before anything
  // else is queued: a frame built straight in the output buffer, with no copy of its own. Empty
  // once the connection is closing.
  std::span<uint8_t> append(size_t size);
  // Graceful close: stop reading, deliver what is queued (bounded by close_linger_ms), close.
  void close(std::string reason = "closed locally");
  // Immediate close; queued output is dropped.
  void abort(std::string reason);

  // Reading paused by the owner (for example while an upstream is backed up), independent of
  // the connection's own backpressure.
  void pause_reading();
  void resume_reading();

  bool is_open() const { return state_ == State::kOpen; }
  bool is_closing() const { return state_ == State::kClosing || state_ == State::kClosed; }
  bool is_reading() const { return reading_; }
  bool is_tls() const { return ssl_ != nullptr; }
  // The names of the certificate the TLS peer presented and our context verified (its subject's
  // common name, then its DNS subject alternative names); empty without TLS, without a peer
  // certificate, or before the handshake is done.
  std::vector<std::string> peer_certificate_names() const;
  size_t queued_bytes() const { return queued_bytes_; }
  const std::string& peer() const { return peer_; }
  const ConnectionStats& stats() const { return stats_; }
  uv_loop_t* loop() const { return loop_; }

 private:
  enum class State { kConnecting, kHandshaking, kOpen, kClosing, kClosed };
  struct WriteRequest;

  Connection(uv_loop_t* loop, const ConnectionOptions& options, std::shared_ptr<TlsContext> tls);
  void init_tls();
  void on_connected(int status);
  void on_read(ssize_t nread, const uv_buf_t* buf);
  void on_tls_input(std::span<const uint8_t> data);
  void become_open();
  void deliver(std::span<const uint8_t> data);
  void queued(size_t size);  // accounts newly pending bytes: flush scheduling, backpressure
  void flush();
  void flush_early();  // cut-through: before a write, when flush_at_bytes is pending
  void submit_write(std::vector<uint8_t> data, size_t accounted);
  void drain_tls_output(size_t accounted);
  void on_write_done(WriteRequest* request, int status);
  void recycle(std::vector<uint8_t>&& written);
  void update_reading();
  void arm_idle_timer(uint64_t timeout_ms);
  void on_idle_timer();
  void maybe_finish_graceful_close();
  void notify_drained();  // queued_bytes_ reached 0: runs a when_drained callback
  void close_handles();
  void on_handle_closed();
  void note_peer();

  uv_loop_t* loop_;
  ConnectionOptions options_;
  std::shared_ptr<TlsContext> tls_context_;
  std::shared_ptr<Connection> self_;  // keeps us alive while libuv handles are open

  uv_tcp_t tcp_;
  uv_prepare_t flush_handle_;
  uv_timer_t idle_timer_;
  uv_timer_t deadline_timer_;  // connect timeout, then close linger
  uv_connect_t connect_request_;
  uv_shutdown_t shutdown_request_;
  int handles_open_ = 0;

  State state_ = State::kConnecting;
  bool reading_ = false;
  bool user_paused_ = false;
  bool backpressure_paused_ = false;
  bool shutdown_started_ = false;
  std::string close_reason_;
  std::string peer_;

  std::vector<uint8_t> pending_;  // written but not yet flushed (plaintext)
  // A written buffer's capacity, kept for the next output (recycle): a busy connection's output
  // does not grow from nothing, reallocating and copying, every turn.
  std::vector<uint8_t> spare_;
  size_t queued_bytes_ = 0;       // pending + in flight
  int writes_in_flight_ = 0;
  size_t early_flush_at_ = 0;   // this turn's cut-through threshold (flush_at_bytes, doubling)
  bool flushing_early_ = false;  // when_drained callbacks wait for the turn's end
  uint64_t last_read_ms_ = 0;

  ssl_st* ssl_ = nullptr;
  bio_st* tls_in_ = nullptr;   // ciphertext from the peer, read by BoringSSL
  bio_st* tls_out_ = nullptr;  // ciphertext BoringSSL produced for the peer

  DataCallback on_data_;
  OpenCallback on_open_;
  CloseCallback on_close_;
  std::function<void()> on_drained_;
  ConnectionStats stats_;
};

}  // namespace ix::net
