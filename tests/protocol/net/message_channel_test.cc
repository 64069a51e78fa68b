// Bad input on a real socket: what a server built on MessageChannel answers to frames that are
// too large, buffers that fail verification, unknown message types, and requests before
// registration — and that it keeps serving well-behaved traffic on the same connection.
#include "protocol/net/message_channel.h"

#include <gtest/gtest.h>

#include "protocol/net/listener.h"
#include "tests/support/frame_peers.h"
#include "tests/support/test_loop.h"

namespace ix::net {
namespace {

using test::FrameClient;
using test::TestLoop;

// A minimal server: registers clients and answers pings, the way ixnode and ixproxy do.
class ChannelServer {
 public:
  explicit ChannelServer(uv_loop_t* loop, size_t max_frame_size = 1024) {
    ChannelOptions options;
    options.max_frame_size = max_frame_size;
    options.require_registration = true;
    listener_ = std::move(Listener::listen(loop, {"127.0.0.1", 0}, {}, [this, options](std::shared_ptr<Connection> c) {
      auto channel = std::make_unique<MessageChannel>(c, options);
      MessageChannel* raw = channel.get();
      channel->set_on_message([raw](const proto::Envelope& e) {
        if (e.body_type() == proto::Message::RequestRegisterClient) {
          proto::EventClientRegisteredT registered;
          registered.server_name = "test-server";
          registered.protocol_version = wire::kProtocolVersion;
          raw->send(wire::encode_frame(e.ref_id(), e.client_id(), std::move(registered)));
        } else if (e.body_type() == proto::Message::RequestPing) {
          raw->send(wire::encode_frame(e.ref_id(), e.client_id(), proto::EventPongT{}));
        }
      });
      channel->set_on_protocol_error([this](proto::ErrorCode code, const std::string&) {
        errors.push_back(code);
      });
      c->set_on_close([this, raw](const std::string&) {
        std::erase_if(channels, [raw](const auto& p) { return p.get() == raw; });
      });
      channels.push_back(std::move(channel));
      c->start();
    }).value());
  }
  ~ChannelServer() {
    for (auto& c : channels) {
      c->connection().clear_callbacks();
      c->connection().abort("test over");
    }
  }
  uint16_t port() const { return listener_->port(); }

  std::vector<std::unique_ptr<MessageChannel>> channels;
  std::vector<proto::ErrorCode> errors;

 private:
  std::unique_ptr<Listener> listener_;
};

struct Fixture {
  TestLoop loop;
  ChannelServer server{loop.get()};
  FrameClient client{test::connect_to(loop.get(), server.port())};

  bool wait_for(size_t replies) {
    return loop.run_until([&] { return client.received.size() >= replies || client.closed; });
  }
  const proto::EventErrorT* error_at(size_t i) {
    if (i >= client.received.size()) return nullptr;
    return client.received[i]->body.AsEventError();
  }
  void finish() {
    client.connection().close();
    loop.run_until([&] { return client.closed && server.channels.empty(); });
  }
};

TEST(MessageChannel, RegisteredClientGetsReplies) {
  Fixture f;
  f.client.send(wire::encode_register_client(1, proto::ClientType::AgentApplication, "desktop", {"t1"}));
  f.client.send(wire::encode_ping(2));
  ASSERT_TRUE(f.wait_for(2));
  ASSERT_EQ(f.client.received.size(), 2u);
  EXPECT_EQ(f.client.received[0]->body.type, proto::Message::EventClientRegistered);
  EXPECT_EQ(f.client.received[0]->ref_id, 1u);
  EXPECT_EQ(f.client.received[1]->body.type, proto::Message::EventPong);
  EXPECT_EQ(f.client.received[1]->ref_id, 2u);
  EXPECT_EQ(f.server.channels[0]->client_type(), proto::ClientType::AgentApplication);
  EXPECT_EQ(f.server.channels[0]->client_name(), "desktop");
  f.finish();
}

TEST(MessageChannel, RequestBeforeRegistrationIsRefusedAndClosed) {
  Fixture f;
  f.client.send(wire::encode_ping(5));
  ASSERT_TRUE(f.loop.run_until([&] { return f.client.closed; }));
  ASSERT_EQ(f.client.received.size(), 1u);
  const proto::EventErrorT* error = f.error_at(0);
  ASSERT_NE(error, nullptr);
  EXPECT_EQ(error->code, static_cast<int>(proto::ErrorCode::NotRegistered));
  EXPECT_EQ(error->text, "RequestPing sent before RequestRegisterClient");
  EXPECT_EQ(f.client.received[0]->ref_id, 5u);
  EXPECT_EQ(f.server.errors, std::vector<proto::ErrorCode>{proto::ErrorCode::NotRegistered});
}

TEST(MessageChannel, OversizedFrameGetsAnErrorThenTheConnectionCloses) {
  Fixture f;
  f.client.send(wire::encode_register_client(1, proto::ClientType::MediaServer, "chat", {}));
  const uint8_t header[4] = {0x00, 0x00, 0x10, 0x00};  // 1 MiB declared, limit is 1 KiB
  f.client.send(std::vector<uint8_t>(header, header + 4));
  ASSERT_TRUE(f.loop.run_until([&] { return f.client.closed; }));
  ASSERT_EQ(f.client.received.size(), 2u);
  const proto::EventErrorT* error = f.error_at(1);
  ASSERT_NE(error, nullptr);
  EXPECT_EQ(error->code, static_cast<int>(proto::ErrorCode::FrameTooLarge));
  EXPECT_EQ(error->text, "frame of 1048576 bytes exceeds the maximum frame size of 1024 bytes");
}

TEST(MessageChannel, MalformedBufferGetsAnErrorAndTheConnectionStays) {
  Fixture f;
  f.client.send(wire::encode_register_client(1, proto::ClientType::RoutingEngine, "router", {}));
  std::vector<uint8_t> garbage(64, 0xEE);
  f.client.send(wire::make_frame(garbage));
  f.client.send(wire::make_frame({}));  // an empty frame
  f.client.send(wire::encode_ping(3));
  ASSERT_TRUE(f.wait_for(4));
  ASSERT_EQ(f.client.received.size(), 4u);
  ASSERT_NE(f.error_at(1), nullptr);
  EXPECT_EQ(f.error_at(1)->code, static_cast<int>(proto::ErrorCode::MalformedMessage));
  EXPECT_NE(f.error_at(1)->text.find("file identifier"), std::string::npos) << f.error_at(1)->text;
  ASSERT_NE(f.error_at(2), nullptr);
  EXPECT_EQ(f.error_at(2)->code, static_cast<int>(proto::ErrorCode::MalformedMessage));
  EXPECT_EQ(f.client.received[3]->body.type, proto::Message::EventPong) << "still serving";
  EXPECT_FALSE(f.client.closed);
  f.finish();
}

TEST(MessageChannel, UnknownMessageTypeGetsAnErrorWithItsRefId) {
  Fixture f;
  f.client.send(wire::encode_register_client(1, proto::ClientType::ReportingEngine, "stats", {}));
  flatbuffers::FlatBufferBuilder builder;
  auto body = proto::CreateEventAck(builder);
  proto::FinishEnvelopeBuffer(builder, proto::CreateEnvelope(builder, 44, 0, static_cast<proto::Message>(200), body.Union()));
  f.client.send(wire::make_frame(builder.GetBufferSpan()));
  f.client.send(wire::encode_ping(45));
  ASSERT_TRUE(f.wait_for(3));
  ASSERT_NE(f.error_at(1), nullptr);
  EXPECT_EQ(f.error_at(1)->code, static_cast<int>(proto::ErrorCode::UnknownMessage));
  EXPECT_EQ(f.error_at(1)->text, "unknown message type 200");
  EXPECT_EQ(f.client.received[1]->ref_id, 44u);
  EXPECT_EQ(f.client.received[2]->ref_id, 45u);
  f.finish();
}

TEST(MessageChannel, SecondRegistrationAndWrongVersionAreRefused) {
  Fixture f;
  f.client.send(wire::encode_register_client(1, proto::ClientType::AgentApplication, "a", {}));
  f.client.send(wire::encode_register_client(2, proto::ClientType::AgentApplication, "b", {}));
  ASSERT_TRUE(f.wait_for(2));
  ASSERT_NE(f.error_at(1), nullptr);
  EXPECT_EQ(f.error_at(1)->code, static_cast<int>(proto::ErrorCode::AlreadyRegistered));
  f.finish();

  Fixture g;
  proto::RequestRegisterClientT future;
  future.client_type = proto::ClientType::AgentApplication;
  future.protocol_version = 99;
  g.client.send(wire::encode_frame(1, 0, std::move(future)));
  ASSERT_TRUE(g.loop.run_until([&] { return g.client.closed; }));
  ASSERT_NE(g.error_at(0), nullptr);
  EXPECT_EQ(g.error_at(0)->code, static_cast<int>(proto::ErrorCode::UnsupportedProtocolVersion));
  EXPECT_NE(g.error_at(0)->text.find("99"), std::string::npos);
}

TEST(MessageChannel, UnknownClientTypeIsRefused) {
  Fixture f;
  proto::RequestRegisterClientT request;
  request.client_type = static_cast<proto::ClientType>(77);
  request.protocol_version = wire::kProtocolVersion;
  f.client.send(wire::encode_frame(1, 0, std::move(request)));
  ASSERT_TRUE(f.loop.run_until([&] { return f.client.closed; }));
  ASSERT_NE(f.error_at(0), nullptr);
  EXPECT_EQ(f.error_at(0)->code, static_cast<int>(proto::ErrorCode::InvalidAttribute));
  EXPECT_NE(f.error_at(0)->text.find("client_type 77"), std::string::npos) << f.error_at(0)->text;
}

}  // namespace
}  // namespace ix::net
