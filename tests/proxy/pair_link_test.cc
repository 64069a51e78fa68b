// PairLink during a planned hand-over, against two scripted nodes in the test process: once the
// serving node says, on its open connection, that it is the backup, the pair's requests are held
// — not refused — and go to the next primary when it announces itself; if none does within the
// pair's lease-timeout they fail with 2002. A primary that drops its connection is no hand-over:
// its pair refuses at once, as before. The link answers the old primary's announcement with a ping
// saying it heard it, after whatever it had sent there.
#include <gtest/gtest.h>

#include <optional>

#include "protocol/net/listener.h"
#include "protocol/net/message_channel.h"
#include "protocol/wire/heard_role_ping.h"
#include "protocol/wire/messages.h"
#include "proxy/upstream/pair_link.h"
#include "tests/support/frame_peers.h"
#include "tests/support/test_loop.h"

namespace ix::proxy {
namespace {

// A node that registers its peers with a role, records their requests and answers on demand.
class ScriptedNode {
 public:
  ScriptedNode(uv_loop_t* loop, uint16_t port, proto::ServerRole role) : role_(role) {
    auto listener = net::Listener::listen(loop, net::Endpoint{"127.0.0.1", port}, {},
                                          [this](std::shared_ptr<net::Connection> c) { on_accept(std::move(c)); });
    EXPECT_TRUE(listener) << "cannot listen on " << port;
    if (listener) listener_ = std::move(*listener);
  }
  ~ScriptedNode() {
    if (listener_) listener_->close();
    for (auto& c : channels_) c->connection().abort("test over");
  }
  // Says its new role on every open connection (EventServerRoleChanged).
  void announce(proto::ServerRole role) {
    role_ = role;
    proto::EventServerRoleChangedT changed;
    changed.node_id = "pair-1";
    changed.role = role;
    for (auto& c : channels_) c->send(wire::encode_frame(0, 0, changed));
  }
  void drop_connections() {
    for (auto& c : channels_) c->connection().abort("the node goes away");
  }
  void ack_all() {
    for (auto& [channel, ref, client] : requests_) channel->send(wire::encode_ack(ref, client));
    answered_ += requests_.size();
    requests_.clear();
  }
  size_t received() const { return requests_.size() + answered_; }
  // Pings saying the peer heard this node announce Backup (wire/heard_role_ping.h).
  size_t heard_backup_pings() const { return heard_backup_pings_; }

 private:
  void on_accept(std::shared_ptr<net::Connection> connection) {
    auto channel = std::make_unique<net::MessageChannel>(connection, net::ChannelOptions{});
    net::MessageChannel* c = channel.get();
    c->set_on_message([this, c](const proto::Envelope& e) {
      if (e.body_type() == proto::Message::RequestRegisterClient) {
        proto::EventClientRegisteredT registered;
        registered.role = role_;
        registered.node_id = "pair-1";
        c->send(wire::encode_frame(e.ref_id(), 0, registered));
        return;
      }
      if (wire::is_heard_backup_ping(e)) {
        ++heard_backup_pings_;
        return;
      }
      requests_.push_back({c, e.ref_id(), e.client_id()});
    });
    connection->set_on_close([](const std::string&) {});
    connection->start();
    channels_.push_back(std::move(channel));
  }

  proto::ServerRole role_;
  std::unique_ptr<net::Listener> listener_;
  std::vector<std::unique_ptr<net::MessageChannel>> channels_;
  struct Request {
    net::MessageChannel* channel;
    uint64_t ref, client;
  };
  std::vector<Request> requests_;
  size_t answered_ = 0;
  size_t heard_backup_pings_ = 0;
};

class PairLinkHandOverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::vector<uint16_t> ports = test::unused_ports(loop_.get(), 2);
    pair_.id = "pair-1";
    pair_.primary = {"127.0.0.1", ports[0]};
    pair_.backup = {"127.0.0.1", ports[1]};
    pair_.settings.lease_timeout = std::chrono::milliseconds(1000);
    a_.emplace(loop_.get(), ports[0], proto::ServerRole::Primary);
    b_.emplace(loop_.get(), ports[1], proto::ServerRole::Backup);
    NodeLinkOptions options;
    options.proxy_name = "pair-link-test";
    options.request_timeout_ms = 5000;
    options.max_frame_size = wire::kDefaultMaxFrameSize;
    link_.emplace(loop_.get(), pair_, options);
    link_->start();
    ASSERT_TRUE(loop_.run_until([&] { return link_->primary() != nullptr && link_->status()["nodes"][1]["state"] == "backup"; }));
  }
  void TearDown() override {
    link_->stop();
    loop_.run_for(5);
    link_.reset();
    a_.reset();
    b_.reset();
  }

  // Sends a submit through the link; the reply (or error) lands in reply_.
  bool send() {
    proto::RequestSubmitT submit;
    submit.tenant_id = "101";
    submit.media_type = "chat";
    return link_->send(Outgoing::of(std::move(submit)), 7, [this](const UpstreamReply& r) {
      reply_ = r.envelope ? static_cast<int>(r.envelope->body_type()) : -r.error.code;
    });
  }

  test::TestLoop loop_;
  config::NodePair pair_;
  std::optional<ScriptedNode> a_, b_;
  std::optional<PairLink> link_;
  std::optional<int> reply_;  // the reply's message type, or minus the error code
};

TEST_F(PairLinkHandOverTest, RequestsHeldDuringAHandOverGoToTheNextPrimary) {
  a_->announce(proto::ServerRole::Backup);
  ASSERT_TRUE(loop_.run_until([&] { return link_->handing_over(); }));
  EXPECT_TRUE(link_->reachable()) << "a pair handing over takes requests";
  ASSERT_TRUE(send());
  loop_.run_for(50);
  EXPECT_FALSE(reply_.has_value()) << "held, not refused";
  EXPECT_EQ(a_->heard_backup_pings(), 1u) << "the old primary hears that the proxy heard it (it may stop serving)";
  EXPECT_EQ(a_->received(), 0u);
  EXPECT_EQ(b_->received(), 0u);

  b_->announce(proto::ServerRole::Primary);
  ASSERT_TRUE(loop_.run_until([&] { return b_->received() == 1; })) << "the held request goes to the new primary";
  b_->ack_all();
  ASSERT_TRUE(loop_.run_until([&] { return reply_.has_value(); }));
  EXPECT_EQ(*reply_, static_cast<int>(proto::Message::EventAck));
  EXPECT_FALSE(link_->handing_over());
  EXPECT_EQ(a_->received(), 0u);
}

TEST_F(PairLinkHandOverTest, RequestsHeldFailWith2002WhenNoPrimaryComesWithinTheLeaseTimeout) {
  a_->announce(proto::ServerRole::Backup);
  ASSERT_TRUE(loop_.run_until([&] { return link_->handing_over(); }));
  const uint64_t sent = uv_now(loop_.get());
  ASSERT_TRUE(send());
  ASSERT_TRUE(loop_.run_until([&] { return reply_.has_value(); }, 4000));
  const uint64_t waited = uv_now(loop_.get()) - sent;
  EXPECT_EQ(*reply_, -static_cast<int>(proto::ErrorCode::ClusterLostConnection));
  EXPECT_GE(waited, 900u) << "held for the pair's lease-timeout (1 s)";
  EXPECT_LT(waited, 3000u) << "not for the request-timeout (5 s)";
  EXPECT_FALSE(link_->handing_over());
  EXPECT_FALSE(send()) << "afterwards the pair without a primary refuses at once";
}

TEST_F(PairLinkHandOverTest, APrimaryThatDropsItsConnectionIsNoHandOver) {
  a_->drop_connections();
  ASSERT_TRUE(loop_.run_until([&] { return link_->primary() == nullptr; }));
  EXPECT_FALSE(link_->handing_over());
  EXPECT_FALSE(link_->reachable());
  EXPECT_FALSE(send()) << "refused at once, as before";
}

}  // namespace
}  // namespace ix::proxy
