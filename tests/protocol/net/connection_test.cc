#include "protocol/net/connection.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "protocol/net/connector.h"
#include "protocol/net/listener.h"
#include "protocol/wire/frame_codec.h"
#include "tests/support/frame_peers.h"
#include "tests/support/test_loop.h"

namespace ix::net {
namespace {

using test::EchoServer;
using test::TestLoop;

// Frame payload: an 8-byte sequence number plus filler.
std::vector<uint8_t> numbered_frame(uint64_t seq, size_t filler = 24) {
  std::vector<uint8_t> payload(8 + filler, static_cast<uint8_t>(seq));
  std::memcpy(payload.data(), &seq, 8);
  return wire::make_frame(payload);
}

// Decodes echoed frames and checks that sequence numbers arrive in order.
struct OrderedReceiver {
  wire::FrameDecoder decoder;
  uint64_t next = 0;
  bool in_order = true;
  void feed(std::span<const uint8_t> data) {
    decoder.feed(data, [this](std::span<const uint8_t> payload) {
      uint64_t seq;
      std::memcpy(&seq, payload.data(), 8);
      if (seq != next) in_order = false;
      ++next;
    });
  }
};

TEST(Connection, EchoesOneHundredThousandSmallFramesInOrder) {
  TestLoop loop;
  EchoServer server(loop.get());
  ASSERT_TRUE(server.start()) << server.error;

  auto client = test::connect_to(loop.get(), server.port());
  OrderedReceiver receiver;
  client->set_on_data([&](std::span<const uint8_t> d) { receiver.feed(d); });
  constexpr uint64_t kFrames = 100'000;
  for (uint64_t i = 0; i < kFrames; ++i) client->write(numbered_frame(i));

  ASSERT_TRUE(loop.run_until([&] { return receiver.next == kFrames; }, 30'000))
      << "received " << receiver.next << " of " << kFrames;
  EXPECT_TRUE(receiver.in_order);
  // All frames were queued in one loop turn: batching turns them into very few writes.
  EXPECT_LT(client->stats().writes, 10u);
  EXPECT_EQ(client->queued_bytes(), 0u);
  client->close();
  server.stop();
  ASSERT_TRUE(loop.run_until([&] { return server.connections.empty(); }));
}

TEST(Connection, SlowReaderTriggersBackpressureAndMemoryStaysBounded) {
  TestLoop loop;
  ListenerOptions options;
  options.connection.high_watermark = 1 << 20;
  options.connection.low_watermark = 256 << 10;
  EchoServer server(loop.get(), options);
  ASSERT_TRUE(server.start());

  auto client = test::connect_to(loop.get(), server.port());
  OrderedReceiver receiver;
  client->set_on_data([&](std::span<const uint8_t> d) { receiver.feed(d); });
  client->pause_reading();  // the slow reader: it does not read its echoes

  // Produce for a while, politely (never more than 2 MiB queued on our side).
  uint64_t sent = 0;
  auto produce = [&] {
    while (client->queued_bytes() < (2u << 20)) client->write(numbered_frame(sent++, 1000));
  };
  uint64_t until = uv_now(loop.get()) + 1500;
  loop.run_until([&] {
    produce();
    return uv_now(loop.get()) >= until;
  }, 5000);

  ASSERT_EQ(server.connections.size(), 1u);
  const ConnectionStats& stats = server.connections[0]->stats();
  EXPECT_GE(stats.read_pauses, 1u) << "the server must stop reading a peer that does not read";
  EXPECT_FALSE(server.connections[0]->is_reading());
  // Bounded: the high watermark plus what one read (64 KiB) can add before reading stops.
  EXPECT_LE(stats.max_queued_bytes, options.connection.high_watermark + 64 * 1024);
  const uint64_t bytes_sent_while_stalled = sent * 1012;
  EXPECT_GT(bytes_sent_while_stalled, 8u << 20) << "the test should have pushed well past the watermark";

  // The reader catches up: everything arrives, in order, and the server reads again.
  client->resume_reading();
  ASSERT_TRUE(loop.run_until([&] {
    return receiver.next == sent;
  }, 30'000)) << receiver.next << " of " << sent;
  EXPECT_TRUE(receiver.in_order);
  EXPECT_TRUE(server.connections[0]->is_reading());
  client->close();
  server.stop();
  loop.run_until([&] { return server.connections.empty(); });
}

// when_drained: a writer that holds output back (a reporting client's backlog in the proxy) is
// told once, as soon as everything it queued is in the socket, and not while the peer is stuck.
TEST(Connection, WhenDrainedRunsOnceEverythingQueuedHasGoneToTheSocket) {
  TestLoop loop;
  ListenerOptions options;
  options.connection.high_watermark = 1 << 20;
  options.connection.low_watermark = 256 << 10;
  EchoServer server(loop.get(), options);
  ASSERT_TRUE(server.start());
  // The client keeps reading however much it has queued (its own back-pressure would otherwise
  // stop it reading the echoes that the server must send before it reads on: a deadlock).
  net::ConnectionOptions client_options;
  client_options.high_watermark = size_t{1} << 30;
  client_options.low_watermark = size_t{1} << 29;
  auto client = test::connect_to(loop.get(), server.port(), nullptr, client_options);
  OrderedReceiver receiver;
  client->set_on_data([&](std::span<const uint8_t> d) { receiver.feed(d); });

  // The socket takes a small write at once: drained on that flush.
  int drained = 0;
  size_t queued_when_drained = 1;
  client->write(numbered_frame(0));
  client->when_drained([&] { ++drained, queued_when_drained = client->queued_bytes(); });
  ASSERT_TRUE(loop.run_until([&] { return drained > 0; }, 5000));
  EXPECT_EQ(queued_when_drained, 0u);

  // A peer that stops reading: the echo server's replies back up, it stops reading us, our
  // writes wait in our queue, and the callback waits with them.
  client->pause_reading();
  uint64_t sent = 1;
  while (client->queued_bytes() < (64u << 20)) client->write(numbered_frame(sent++, 4000));
  drained = 0;
  client->when_drained([&] { ++drained, queued_when_drained = client->queued_bytes(); });
  loop.run_for(300);
  EXPECT_EQ(drained, 0) << "queued " << client->queued_bytes();
  EXPECT_GT(client->queued_bytes(), 0u);

  client->resume_reading();
  ASSERT_TRUE(loop.run_until([&] { return receiver.next == sent; }, 30'000)) << receiver.next << " of " << sent;
  EXPECT_EQ(drained, 1) << "once, however many writes completed";
  EXPECT_EQ(queued_when_drained, 0u);
  client->close();
  server.stop();
  loop.run_until([&] { return server.connections.empty(); });
}

TEST(Connection, FlushAtBytesPassesALargeBatchOnInPiecesDuringTheTurn) {
  TestLoop loop;
  EchoServer server(loop.get());
  ASSERT_TRUE(server.start()) << server.error;
  net::ConnectionOptions cut_through;
  cut_through.flush_at_bytes = 16 * 1024;
  auto batched = test::connect_to(loop.get(), server.port());
  auto early = test::connect_to(loop.get(), server.port(), nullptr, cut_through);
  OrderedReceiver batched_echo, early_echo;
  batched->set_on_data([&](std::span<const uint8_t> d) { batched_echo.feed(d); });
  early->set_on_data([&](std::span<const uint8_t> d) { early_echo.feed(d); });
  ASSERT_TRUE(loop.run_until([&] { return batched->is_open() && early->is_open(); }));

  // 1,000 frames of 112 bytes queued in one turn, through each kind of write; a when_drained
  // callback asked for in the middle.
  int drained = 0;
  for (uint64_t i = 0; i < 1000; ++i) {
    for (Connection* c : {batched.get(), early.get()}) {
      if (i % 3 == 0) {
        c->write(numbered_frame(i, 100));
      } else if (i % 3 == 1) {
        const std::vector<uint8_t> frame = numbered_frame(i, 100);
        c->write(std::span<const uint8_t>(frame));
      } else {
        const std::vector<uint8_t> frame = numbered_frame(i, 100);
        std::span<uint8_t> out = c->append(frame.size());
        ASSERT_EQ(out.size(), frame.size());
        std::memcpy(out.data(), frame.data(), frame.size());
      }
    }
    if (i == 500) early->when_drained([&] { ++drained; });
  }
  // Still inside the turn: without cut-through nothing has been written yet; with it, pieces of
  // 16 and 32 KiB have (112 kB queued in all; the last 62 kB wait for the turn's end), and the
  // callback has not run inside write().
  EXPECT_EQ(batched->stats().bytes_written, 0u);
  EXPECT_EQ(batched->stats().writes, 0u);
  EXPECT_GE(early->stats().writes, 2u);
  EXPECT_GE(early->stats().bytes_written, 48u * 1024);
  EXPECT_LT(early->stats().bytes_written, 112'000u);
  EXPECT_EQ(drained, 0);

  ASSERT_TRUE(loop.run_until([&] { return batched_echo.next == 1000 && early_echo.next == 1000; }, 10'000))
      << batched_echo.next << " and " << early_echo.next << " of 1000";
  EXPECT_TRUE(batched_echo.in_order);
  EXPECT_TRUE(early_echo.in_order) << "the pieces and the turn's end keep the frames' order";
  EXPECT_EQ(drained, 1) << "when_drained runs once, at the turn's end";
  EXPECT_EQ(early->queued_bytes(), 0u);
  batched->close();
  early->close();
  server.stop();
  ASSERT_TRUE(loop.run_until([&] { return server.connections.empty(); }));
}

TEST(Connection, OutputBuffersReusedAcrossTurnsCarryEveryFrameWhole) {
  // Turns of output below, at and far above the buffer a connection keeps between turns, through
  // every kind of write: each frame arrives whole, in order, and nothing of an earlier turn's
  // buffer reappears (a frame's every byte is checked, not only its number).
  TestLoop loop;
  EchoServer server(loop.get());
  ASSERT_TRUE(server.start()) << server.error;
  auto client = test::connect_to(loop.get(), server.port());
  wire::FrameDecoder decoder;
  uint64_t next = 0;
  bool whole = true;
  client->set_on_data([&](std::span<const uint8_t> d) {
    decoder.feed(d, [&](std::span<const uint8_t> payload) {
      const std::vector<uint8_t> expected = numbered_frame(next, payload.size() - 8);
      if (!std::equal(payload.begin(), payload.end(), expected.begin() + wire::kFrameHeaderSize)) whole = false;
      ++next;
    });
  });
  ASSERT_TRUE(loop.run_until([&] { return client->is_open(); }));
  uint64_t sent = 0;
  for (size_t turn_bytes : {200u, 20'000u, 300u, 100'000u, 50u, 16'000u, 70'000u, 10u}) {
    for (size_t queued = 0; queued < turn_bytes; ++sent) {
      std::vector<uint8_t> frame = numbered_frame(sent, 20 + sent % 180);
      queued += frame.size();
      if (sent % 3 == 0) {
        client->write(std::move(frame));
      } else if (sent % 3 == 1) {
        client->write(std::span<const uint8_t>(frame));
      } else {
        std::span<uint8_t> out = client->append(frame.size());
        ASSERT_EQ(out.size(), frame.size());
        std::memcpy(out.data(), frame.data(), frame.size());
      }
    }
    ASSERT_TRUE(loop.run_until([&] { return next == sent; }, 10'000)) << next << " of " << sent;
  }
  EXPECT_TRUE(whole);
  client->close();
  server.stop();
  ASSERT_TRUE(loop.run_until([&] { return server.connections.empty(); }));
}

TEST(Connection, ConnectorReconnectsAfterTheServerRestarts) {
  TestLoop loop;
  auto server = std::make_unique<EchoServer>(loop.get());
  ASSERT_TRUE(server->start());
  const uint16_t port = server->port();

  ConnectorOptions options;
  options.initial_backoff_ms = 20;
  options.max_backoff_ms = 100;
  Connector connector(loop.get(), {"127.0.0.1", port}, options);
  int connected = 0;
  std::vector<std::string> disconnects;
  std::string echoed;
  connector.set_on_connected([&](const std::shared_ptr<Connection>& c) {
    ++connected;
    c->set_on_data([&](std::span<const uint8_t> d) { echoed.append(d.begin(), d.end()); });
    std::string hello = "hello " + std::to_string(connected);
    c->write(std::span(reinterpret_cast<const uint8_t*>(hello.data()), hello.size()));
  });
  connector.set_on_disconnected([&](const std::string& reason, uint64_t) { disconnects.push_back(reason); });
  connector.start();
  ASSERT_TRUE(loop.run_until([&] { return echoed == "hello 1"; }));

  server.reset();  // the server goes away
  ASSERT_TRUE(loop.run_until([&] { return disconnects.size() >= 2; }))
      << "the connector keeps retrying while the server is down";
  EXPECT_EQ(connector.connection(), nullptr);

  server = std::make_unique<EchoServer>(loop.get());
  ASSERT_TRUE(server->start(port)) << server->error;
  ASSERT_TRUE(loop.run_until([&] { return echoed == "hello 1hello 2"; }));
  EXPECT_EQ(connected, 2);
  EXPECT_EQ(connector.connects(), 2u);
  EXPECT_GT(connector.attempts(), 2u);

  connector.stop();
  server->stop();
  loop.run_until([&] { return server->connections.empty(); });
}

TEST(Connection, BackoffGrowsExponentiallyUpToTheMaximum) {
  TestLoop loop;
  const uint16_t port = test::unused_port(loop.get());
  ConnectorOptions options;
  options.initial_backoff_ms = 5;
  options.max_backoff_ms = 40;
  options.jitter = 0;
  Connector connector(loop.get(), {"127.0.0.1", port}, options);
  std::vector<uint64_t> delays;
  std::string reason;
  connector.set_on_disconnected([&](const std::string& r, uint64_t delay) {
    delays.push_back(delay);
    reason = r;
  });
  connector.start();
  ASSERT_TRUE(loop.run_until([&] { return delays.size() >= 6; }));
  connector.stop();
  EXPECT_EQ(std::vector<uint64_t>(delays.begin(), delays.begin() + 6),
            (std::vector<uint64_t>{5, 10, 20, 40, 40, 40}));
  EXPECT_NE(reason.find("connect failed"), std::string::npos) << reason;
  EXPECT_NE(reason.find(std::to_string(port)), std::string::npos) << "names the endpoint: " << reason;
}

TEST(Connection, ConnectorResolvesHostNames) {
  TestLoop loop;
  EchoServer server(loop.get());
  ASSERT_TRUE(server.start());
  Connector connector(loop.get(), {"localhost", server.port()}, {});
  bool connected = false;
  connector.set_on_connected([&](const std::shared_ptr<Connection>&) { connected = true; });
  connector.start();
  EXPECT_TRUE(loop.run_until([&] { return connected; }));
  connector.stop();
  server.stop();
  loop.run_until([&] { return server.connections.empty(); });
}

TEST(Connection, IdlePeerIsClosedAfterTheIdleTimeout) {
  TestLoop loop;
  ListenerOptions options;
  options.connection.idle_timeout_ms = 100;
  EchoServer server(loop.get(), options);
  ASSERT_TRUE(server.start());
  auto client = test::connect_to(loop.get(), server.port());
  bool closed = false;
  client->set_on_close([&](const std::string&) { closed = true; });
  uint64_t started = uv_now(loop.get());
  ASSERT_TRUE(loop.run_until([&] { return closed; }, 5000));
  uint64_t elapsed = uv_now(loop.get()) - started;
  EXPECT_GE(elapsed, 90u);
  EXPECT_LT(elapsed, 2000u);
  ASSERT_EQ(server.close_reasons.size(), 1u);
  EXPECT_NE(server.close_reasons[0].find("idle timeout"), std::string::npos) << server.close_reasons[0];
  server.stop();
}

TEST(Connection, GracefulCloseDeliversQueuedOutputFirst) {
  TestLoop loop;
  std::shared_ptr<Connection> accepted;
  auto listener = Listener::listen(loop.get(), {"127.0.0.1", 0}, {}, [&](std::shared_ptr<Connection> c) {
    accepted = c;
    c->start();
    std::vector<uint8_t> big(3 << 20, 0x5A);
    c->write(big);
    c->close("done sending");
  });
  ASSERT_TRUE(listener.ok());
  auto client = test::connect_to(loop.get(), (*listener)->port());
  size_t received = 0;
  bool closed = false;
  client->set_on_data([&](std::span<const uint8_t> d) { received += d.size(); });
  client->set_on_close([&](const std::string&) { closed = true; });
  ASSERT_TRUE(loop.run_until([&] { return closed; }));
  EXPECT_EQ(received, 3u << 20);
  (*listener)->close();
}

TEST(Connection, RefusedConnectEndsInOnCloseWithTheReason) {
  TestLoop loop;
  const uint16_t port = test::unused_port(loop.get());
  auto client = test::connect_to(loop.get(), port);
  bool opened = false;
  std::string reason;
  client->set_on_open([&] { opened = true; });
  client->set_on_close([&](const std::string& r) { reason = r; });
  ASSERT_TRUE(loop.run_until([&] { return !reason.empty(); }));
  EXPECT_FALSE(opened);
  EXPECT_NE(reason.find("connect failed"), std::string::npos) << reason;
}

TEST(Connection, CloseAndAbortAreIdempotent) {
  TestLoop loop;
  EchoServer server(loop.get());
  ASSERT_TRUE(server.start());
  auto client = test::connect_to(loop.get(), server.port());
  int closes = 0;
  client->set_on_close([&](const std::string&) { ++closes; });
  ASSERT_TRUE(loop.run_until([&] { return server.connections.size() == 1; }));
  client->close();
  client->close();
  client->abort("again");
  client->write(numbered_frame(1));  // ignored once closing
  ASSERT_TRUE(loop.run_until([&] { return closes == 1 && server.connections.empty(); }));
  loop.run_for(20);
  EXPECT_EQ(closes, 1);
}

TEST(Connection, ListenOnAPortInUseFailsWithAClearError) {
  TestLoop loop;
  EchoServer first(loop.get());
  ASSERT_TRUE(first.start());
  auto second = Listener::listen(loop.get(), {"127.0.0.1", first.port()}, {}, nullptr);
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.error().text.find("address already in use"), std::string::npos) << second.error().text;
  auto bad = Listener::listen(loop.get(), {"not-an-ip", 0}, {}, nullptr);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().text.find("not-an-ip"), std::string::npos);
}

TEST(Connection, ReusePortLetsSeveralLoopsListenOnOnePort) {
  TestLoop loop;
  ListenerOptions options;
  options.reuse_port = true;
  auto first = Listener::listen(loop.get(), {"127.0.0.1", 0}, options, nullptr);
  ASSERT_TRUE(first.ok()) << first.error().text;
  auto second = Listener::listen(loop.get(), {"127.0.0.1", (*first)->port()}, options, nullptr);
  ASSERT_TRUE(second.ok()) << second.error().text;
  EXPECT_EQ((*second)->port(), (*first)->port());
}

}  // namespace
}  // namespace ix::net
