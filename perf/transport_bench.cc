// Loopback echo throughput through the transport, plain TCP and TLS side by side. The echo
// server runs its own loop on a second thread (as a peer process would); the client queues a
// burst of frames and waits for every echo before the next burst.
#include <benchmark/benchmark.h>

#include <atomic>
#include <thread>

#include "protocol/net/connection.h"
#include "protocol/net/listener.h"
#include "protocol/wire/frame_codec.h"
#include "tests/support/test_certs.h"

namespace {

using namespace ix;

class EchoThread {
 public:
  explicit EchoThread(std::shared_ptr<net::TlsContext> tls) {
    uv_loop_init(&loop_);
    uv_async_init(&loop_, &stop_, [](uv_async_t* a) {
      auto* self = static_cast<EchoThread*>(a->data);
      self->listener_.reset();
      for (auto& c : self->connections_) c->abort("benchmark over");
      uv_close(reinterpret_cast<uv_handle_t*>(a), nullptr);
    });
    stop_.data = this;
    net::ListenerOptions options;
    options.tls = std::move(tls);
    listener_ = std::move(net::Listener::listen(&loop_, {"127.0.0.1", 0}, options, [this](std::shared_ptr<net::Connection> c) {
      net::Connection* raw = c.get();
      c->set_on_data([raw](std::span<const uint8_t> d) { raw->write(d); });
      connections_.push_back(std::move(c));
      connections_.back()->start();
    }).value());
    port_ = listener_->port();
    thread_ = std::thread([this] {
      uv_run(&loop_, UV_RUN_DEFAULT);
      uv_loop_close(&loop_);
    });
  }
  ~EchoThread() {
    uv_async_send(&stop_);
    thread_.join();
  }
  uint16_t port() const { return port_; }

 private:
  uv_loop_t loop_;
  uv_async_t stop_;
  std::unique_ptr<net::Listener> listener_;
  std::vector<std::shared_ptr<net::Connection>> connections_;
  uint16_t port_ = 0;
  std::thread thread_;
};

void echo_throughput(benchmark::State& state, bool tls) {
  const auto& certs = test::test_certificates();
  std::shared_ptr<net::TlsContext> server_tls, client_tls;
  if (tls) {
    net::TlsOptions s;
    s.cert_pem = certs.server.cert_pem;
    s.key_pem = certs.server.key_pem;
    server_tls = net::TlsContext::create_server(s).value();
    net::TlsOptions c;
    c.ca_pem = certs.ca_pem;
    c.server_name = "localhost";
    client_tls = net::TlsContext::create_client(c).value();
  }
  EchoThread server(server_tls);

  uv_loop_t loop;
  uv_loop_init(&loop);
  sockaddr_storage address = net::numeric_address({"127.0.0.1", server.port()}).value();
  auto client = net::Connection::connect(&loop, reinterpret_cast<const sockaddr*>(&address), {}, client_tls);
  bool open = false;
  client->set_on_open([&] { open = true; });
  while (!open) uv_run(&loop, UV_RUN_ONCE);

  const size_t payload_size = static_cast<size_t>(state.range(0));
  // Bursts stay under the 8 MiB high watermark: a client that queues more than that stops
  // reading its echoes, the echo server then stops reading it, and neither side moves.
  const int burst = static_cast<int>(std::min<size_t>(1000, (4u << 20) / (payload_size + 4)));
  std::vector<uint8_t> frame = wire::make_frame(std::vector<uint8_t>(payload_size, 0x42));
  size_t expected = 0, received = 0;
  client->set_on_data([&](std::span<const uint8_t> d) { received += d.size(); });
  for (auto _ : state) {
    for (int i = 0; i < burst; ++i) client->write(frame);
    expected += frame.size() * burst;
    while (received < expected) uv_run(&loop, UV_RUN_ONCE);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * burst);
  state.SetBytesProcessed(static_cast<int64_t>(received));
  client->abort("benchmark over");
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
}

void BM_EchoPlain(benchmark::State& state) { echo_throughput(state, false); }
void BM_EchoTls(benchmark::State& state) { echo_throughput(state, true); }

BENCHMARK(BM_EchoPlain)->Arg(64)->Arg(1024)->Arg(16384)->UseRealTime();
BENCHMARK(BM_EchoTls)->Arg(64)->Arg(1024)->Arg(16384)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
