// Small peers for transport tests, built on the real Connection and Listener:
//   EchoServer   accepts connections (plain or TLS) and writes every received byte back;
//   FrameClient  connects, sends frames, and collects the verified envelopes it receives.
#pragma once

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "protocol/net/connection.h"
#include "protocol/net/listener.h"
#include "protocol/wire/frame_codec.h"
#include "protocol/wire/messages.h"

namespace ix::test {

class EchoServer {
 public:
  EchoServer(uv_loop_t* loop, net::ListenerOptions options = {}) : loop_(loop), options_(std::move(options)) {}
  ~EchoServer() { stop(); }

  bool start(uint16_t port = 0) {
    auto listener = net::Listener::listen(loop_, {"127.0.0.1", port}, options_,
                                          [this](std::shared_ptr<net::Connection> c) {
      net::Connection* raw = c.get();
      c->set_on_data([raw, this](std::span<const uint8_t> data) {
        bytes_received += data.size();
        raw->write(data);
      });
      c->set_on_close([this, raw](const std::string& reason) {
        close_reasons.push_back(reason);
        std::erase_if(connections, [raw](const auto& p) { return p.get() == raw; });
      });
      connections.push_back(c);
      c->start();
    });
    if (!listener) {
      error = listener.error().text;
      return false;
    }
    listener_ = std::move(listener.value());
    return true;
  }
  // Closes the listener and every connection; their callbacks no longer reach this object.
  void stop() {
    listener_.reset();
    for (auto& c : connections) {
      c->clear_callbacks();
      c->abort("echo server stopped");
    }
    connections.clear();
  }
  uint16_t port() const { return listener_ ? listener_->port() : 0; }

  std::vector<std::shared_ptr<net::Connection>> connections;
  std::vector<std::string> close_reasons;
  size_t bytes_received = 0;
  std::string error;

 private:
  uv_loop_t* loop_;
  net::ListenerOptions options_;
  std::unique_ptr<net::Listener> listener_;
};

// Collects every frame a connection receives, verified into native envelopes.
class FrameClient {
 public:
  explicit FrameClient(std::shared_ptr<net::Connection> connection) : connection_(std::move(connection)) {
    connection_->set_on_open([this] { opened = true; });
    connection_->set_on_data([this](std::span<const uint8_t> data) {
      decoder_.feed(data, [this](std::span<const uint8_t> payload) {
        auto envelope = wire::verify_envelope(payload);
        if (!envelope) {
          bad_frames.push_back(envelope.error().text);
          return;
        }
        received.emplace_back((*envelope)->UnPack());
      });
    });
    connection_->set_on_close([this](const std::string& reason) {
      closed = true;
      close_reason = reason;
    });
  }
  // A client the test drops while its connection is open (or closing) must not be called back
  // later, when the loop finishes closing the connection (at the latest when the test's loop
  // closes).
  ~FrameClient() {
    connection_->clear_callbacks();
    connection_->abort("the test's client is gone");
  }
  FrameClient(const FrameClient&) = delete;
  FrameClient& operator=(const FrameClient&) = delete;
  void send(const std::vector<uint8_t>& frame) { connection_->write(frame); }
  net::Connection& connection() { return *connection_; }

  bool opened = false;
  bool closed = false;
  std::string close_reason;
  std::vector<std::unique_ptr<proto::EnvelopeT>> received;
  std::vector<std::string> bad_frames;

 private:
  std::shared_ptr<net::Connection> connection_;
  wire::FrameDecoder decoder_;
};

inline sockaddr_storage loopback(uint16_t port) {
  return net::numeric_address({"127.0.0.1", port}).value();
}

// A loopback port that nothing listens on (it was bound a moment ago and released). Only for a
// port that must be known before anything listens on it — a port where nobody answers, a
// configuration read whole before any process starts (ClusterFixture::choose_ports_before_start).
// A server a test starts, real or fake, should listen on port 0 and report what it got: between
// the probe here and its own bind, another program can take the port. Chosen
// below the kernel's ephemeral range (32768-60999 by default), so that the outgoing connections
// of tests running in parallel — proxies reconnecting to stopped nodes make many — cannot take it
// before the process meant to listen on it does.
//
// Tests run in parallel processes that pick ports at random from the same range: each port is
// also reserved with a lock file held until the process ends, so two tests never pick the same.
inline bool reserve_port(uint16_t port) {
  const std::string path = "/tmp/ix-test-port-" + std::to_string(port) + ".lock";
  const int fd = ::open(path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0666);
  if (fd < 0) return true;  // no reservation possible; the probe below still checks the port
  if (::flock(fd, LOCK_EX | LOCK_NB) == 0) return true;  // kept open: released when the process exits
  ::close(fd);
  return false;
}

inline uint16_t unused_port(uv_loop_t* loop) {
  static std::mt19937 random(static_cast<uint32_t>(::getpid()) * 2654435761u ^ static_cast<uint32_t>(uv_hrtime()));
  for (;;) {
    const auto port = static_cast<uint16_t>(20000 + random() % 12000);
    if (!reserve_port(port)) continue;
    EchoServer probe(loop);
    if (!probe.start(port)) continue;
    probe.stop();
    return port;
  }
}

// n different unused ports (the kernel may hand a just-released port out again).
inline std::vector<uint16_t> unused_ports(uv_loop_t* loop, size_t n) {
  std::vector<uint16_t> ports;
  while (ports.size() < n) {
    const uint16_t port = unused_port(loop);
    if (std::find(ports.begin(), ports.end(), port) == ports.end()) ports.push_back(port);
  }
  return ports;
}

inline std::shared_ptr<net::Connection> connect_to(uv_loop_t* loop, uint16_t port,
                                                   std::shared_ptr<net::TlsContext> tls = nullptr,
                                                   net::ConnectionOptions options = {}) {
  sockaddr_storage address = loopback(port);
  return net::Connection::connect(loop, reinterpret_cast<const sockaddr*>(&address), options, std::move(tls));
}

}  // namespace ix::test
