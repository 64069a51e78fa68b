// ixproxy against a node that misbehaves on purpose (STYLE.md: mock backends that sleep,
// refuse, close at once, flap): pair-2's endpoints are a fake node in the test process; pair-1
// is real. Whatever the fake does, every client request is answered within the request
// timeout, requests for pair-1 are unaffected, and the proxy stays up.
#include <gtest/gtest.h>

#include "protocol/net/listener.h"
#include "protocol/net/message_channel.h"
#include "protocol/net/timer.h"
#include "tests/proxy/cluster_fixture.h"

namespace ix::test {
namespace {

enum class Misbehaviour { kSilent, kGarbage, kCloseAtOnce, kFlap, kRefuseRegistration };

const char* name_of(Misbehaviour m) {
  switch (m) {
    case Misbehaviour::kSilent: return "Silent";
    case Misbehaviour::kGarbage: return "Garbage";
    case Misbehaviour::kCloseAtOnce: return "CloseAtOnce";
    case Misbehaviour::kFlap: return "Flap";
    case Misbehaviour::kRefuseRegistration: return "RefuseRegistration";
  }
  return "?";
}

// A "node" that registers the proxy as a primary would (unless told otherwise) and then
// misbehaves.
class FakeNode {
 public:
  FakeNode(uv_loop_t* loop, uint16_t port, Misbehaviour mode) : loop_(loop), mode_(mode) {
    auto listener = net::Listener::listen(loop, net::Endpoint{"127.0.0.1", port}, {},
                                          [this](std::shared_ptr<net::Connection> c) { on_accept(std::move(c)); });
    EXPECT_TRUE(listener) << "fake node cannot listen on " << port;
    if (listener) listener_ = std::move(*listener);
  }
  ~FakeNode() {
    if (listener_) listener_->close();
    for (auto& c : channels_) c->connection().abort("test over");
  }
  int accepted = 0;

 private:
  void on_accept(std::shared_ptr<net::Connection> connection) {
    ++accepted;
    if (mode_ == Misbehaviour::kCloseAtOnce) {
      connection->start();
      connection->close("fake node closes at once");
      return;
    }
    auto channel = std::make_unique<net::MessageChannel>(connection, net::ChannelOptions{});
    net::MessageChannel* c = channel.get();
    c->set_on_message([this, c](const proto::Envelope& e) {
      if (e.body_type() == proto::Message::RequestRegisterClient) {
        if (mode_ == Misbehaviour::kRefuseRegistration) {
          c->send(wire::encode_error(e.ref_id(), 0, proto::ErrorCode::RequestNotAllowed, "go away"));
          return;
        }
        proto::EventClientRegisteredT registered;
        registered.role = proto::ServerRole::Primary;
        registered.node_id = "pair-2";
        c->send(wire::encode_frame(e.ref_id(), 0, registered));
        if (mode_ == Misbehaviour::kFlap) {
          auto conn = c->connection_ptr();
          timers_.push_back(std::make_unique<net::Timer>(loop_));
          timers_.back()->start(100, [conn] { conn->abort("fake node flaps"); });
        }
        return;
      }
      if (mode_ == Misbehaviour::kGarbage) {
        // A well-framed payload that is no FlatBuffer, then a reply to a request never made.
        const uint8_t junk[] = {12, 0, 0, 0, 'n', 'o', 't', ' ', 'a', ' ', 'b', 'u', 'f', 'f', 'e', 'r'};
        c->connection().write(junk);
        c->send(wire::encode_ack(e.ref_id() + 1000, e.client_id()));
      }
      // kSilent, kFlap: never answer.
    });
    connection->set_on_close([](const std::string&) {});
    connection->start();
    channels_.push_back(std::move(channel));
  }

  uv_loop_t* loop_;
  Misbehaviour mode_;
  std::unique_ptr<net::Listener> listener_;
  std::vector<std::unique_ptr<net::MessageChannel>> channels_;
  std::vector<std::unique_ptr<net::Timer>> timers_;
};

class MisbehavingNode : public ClusterFixture, public ::testing::WithParamInterface<Misbehaviour> {};

TEST_P(MisbehavingNode, NeitherStallsNorCrashesTheProxy) {
  choose_ports_before_start();  // the fake nodes listen where the file puts pair-2
  start_pair(0);
  FakeNode fake_primary(loop_.get(), node_ports_[1][0].first, GetParam());
  FakeNode fake_backup(loop_.get(), node_ports_[1][1].first, Misbehaviour::kCloseAtOnce);
  start_proxy(0);
  auto media = proxy_client(0, proto::ClientType::MediaServer);

  for (int round = 0; round < 3; ++round) {
    std::vector<std::pair<uint64_t, uint64_t>> sent;
    for (int i = 0; i < 6; ++i) sent.emplace_back(media->send(chat_submit()), uv_now(loop_.get()));
    for (auto [ref, at] : sent) {
      EnvelopePtr reply = media->wait_reply(ref, 10'000);
      ASSERT_NE(reply, nullptr) << "no answer in round " << round;
      EXPECT_LT(uv_now(loop_.get()) - at, 4000u) << "request-timeout is 3 s";
      if (!reply->body.AsEventSubmitted()) {
        EXPECT_EQ(error_code(reply), static_cast<int>(proto::ErrorCode::ClusterLostConnection)) << error_text(reply);
        EXPECT_NE(error_text(reply).find("pair-2"), std::string::npos) << error_text(reply);
      } else {
        EXPECT_EQ(reply->body.AsEventSubmitted()->interaction_id.substr(0, 3), "p1-");
      }
    }
    // pair-1 alone serves email: always answered at once.
    const uint64_t started = uv_now(loop_.get());
    EnvelopePtr email = media->call(chat_submit("email"));
    ASSERT_TRUE(email && email->body.AsEventSubmitted()) << error_text(email);
    EXPECT_LT(uv_now(loop_.get()) - started, 1000u);
  }
  EXPECT_GT(fake_primary.accepted, 0);
  EXPECT_EQ(http_get(loop_, proxy_ports_[0].second, "/healthz").status(), 200);
  EXPECT_TRUE(proxies_[0]->running());
}

INSTANTIATE_TEST_SUITE_P(Modes, MisbehavingNode,
                         ::testing::Values(Misbehaviour::kSilent, Misbehaviour::kGarbage, Misbehaviour::kCloseAtOnce,
                                           Misbehaviour::kFlap, Misbehaviour::kRefuseRegistration),
                         [](const ::testing::TestParamInfo<Misbehaviour>& p) { return name_of(p.param); });

}  // namespace
}  // namespace ix::test
