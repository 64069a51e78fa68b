// One failure stays with the request that caused it (DESIGN.md §7, issue 18): a reply that nests
// one level deeper than its request, a reply the proxy cannot verify or that is too large, a
// request that grows past the node's frame limit when the proxy re-addresses it, and one reply
// that misses its deadline each fail (at most) their own request — at once, with a specific
// error — and never the proxy's shared link to the node, its agents or other clients' requests.
//
// Real cluster (ClusterFixture) for the depth and size limits; pair-2 replaced by a scripted fake
// node for replies a real node never sends.
#include <gtest/gtest.h>

#include <cstring>
#include <functional>

#include "protocol/net/listener.h"
#include "protocol/net/message_channel.h"
#include "protocol/net/timer.h"
#include "protocol/wire/kv.h"
#include "tests/proxy/cluster_fixture.h"

namespace ix::test {
namespace {

int code(proto::ErrorCode c) { return static_cast<int>(c); }

// User data nested `levels` lists deep: {"n": {"n": ... {"leaf": 1}}}.
std::unique_ptr<proto::KvListT> nested_user_data(int levels) {
  auto list = wire::kv_list({{"leaf", 1}});
  for (int i = 1; i < levels; ++i) {
    auto outer = std::make_unique<proto::KvListT>();
    wire::kv_set_list(*outer, "n", std::move(list));
    list = std::move(outer);
  }
  return list;
}

int depth_of(const proto::KvListT* list) {
  int depth = 0;
  while (list) {
    ++depth;
    const proto::KvListT* next = nullptr;
    for (const auto& pair : list->pairs) {
      if (pair->list_value) next = pair->list_value.get();
    }
    list = next;
  }
  return depth;
}

bool request_verifies(const proto::RequestSubmitT& submit) {
  wire::Frame frame = wire::encode_frame(1, 0, submit);
  return wire::verify_envelope(std::span<const uint8_t>(frame).subspan(wire::kFrameHeaderSize)).ok();
}

std::string submitted_id(const EnvelopePtr& reply) {
  return reply && reply->body.AsEventSubmitted() ? reply->body.AsEventSubmitted()->interaction_id : "";
}

using ContainmentCluster = ClusterFixture;

// Issue 18 item 1: user data as deep as a node accepts comes back through the proxy from every
// request that returns it, at once, and the link stays up for everybody else.
TEST_F(ContainmentCluster, UserDataAsDeepAsTheNodeAcceptsComesBackThroughTheProxy) {
  start_pair(0);
  start_pair(1);
  start_proxy(0);
  // The deepest user data a request may carry: the node verifies with the same function and
  // limits as this process.
  int levels = 1;
  for (;;) {
    proto::RequestSubmitT probe = chat_submit("email");
    probe.user_data = nested_user_data(levels + 1);
    if (!request_verifies(probe)) break;
    ++levels;
  }
  ASSERT_GT(levels, 20) << "the depth limit leaves room for realistic user data";

  auto media = proxy_client(0, proto::ClientType::MediaServer);
  auto other = proxy_client(0, proto::ClientType::MediaServer);
  proto::RequestSubmitT too_deep = chat_submit("email");
  too_deep.user_data = nested_user_data(levels + 1);
  EnvelopePtr refused = media->call(too_deep);
  EXPECT_EQ(error_code(refused), code(proto::ErrorCode::MalformedMessage)) << error_text(refused);
  EXPECT_NE(error_text(refused).find("deeper"), std::string::npos) << error_text(refused);

  proto::RequestSubmitT deep = chat_submit("email");  // email: pair-1 only
  deep.user_data = nested_user_data(levels);
  const std::string id = submitted_id(media->call(deep));
  ASSERT_FALSE(id.empty()) << "a submit as deep as the limit is accepted";

  const uint64_t started = uv_now(loop_.get());
  // Another client's request in flight on the same link while the deep replies pass.
  const uint64_t other_ref = other->send(chat_submit("email"));
  proto::RequestGetPropertiesT get;
  get.interaction_id = id;
  EnvelopePtr properties = media->call(get);
  ASSERT_TRUE(properties && properties->body.AsEventProperties()) << error_text(properties);
  EXPECT_EQ(depth_of(properties->body.AsEventProperties()->interaction->user_data.get()), levels);

  proto::RequestFindT find;
  find.tenant_id = "101";
  find.condition = "interaction_id = '" + id + "'";
  EnvelopePtr found = media->call(find);
  ASSERT_TRUE(found && found->body.AsEventFindResult()) << error_text(found);
  ASSERT_EQ(found->body.AsEventFindResult()->interactions.size(), 1u);
  EXPECT_EQ(depth_of(found->body.AsEventFindResult()->interactions[0]->user_data.get()), levels);

  auto desktop = proxy_client(0, proto::ClientType::AgentApplication);
  proto::RequestTakeSnapshotT take;
  take.tenant_id = "101";
  take.condition = "interaction_id = '" + id + "'";
  EnvelopePtr taken = desktop->call(take);
  ASSERT_TRUE(taken && taken->body.AsEventSnapshotTaken()) << error_text(taken);
  proto::RequestSnapshotPageT page;
  page.snapshot_id = taken->body.AsEventSnapshotTaken()->snapshot_id;
  page.count = 10;
  EnvelopePtr paged = desktop->call(page);
  ASSERT_TRUE(paged && paged->body.AsEventSnapshotPage()) << error_text(paged);
  ASSERT_EQ(paged->body.AsEventSnapshotPage()->interactions.size(), 1u);
  EXPECT_EQ(depth_of(paged->body.AsEventSnapshotPage()->interactions[0]->user_data.get()), levels);
  EXPECT_LT(uv_now(loop_.get()) - started, 1500u) << "answered at once, not after the 3 s request-timeout";

  EnvelopePtr other_reply = other->wait_reply(other_ref);
  EXPECT_FALSE(submitted_id(other_reply).empty()) << error_text(other_reply);
  EXPECT_EQ(proxy_status(0).find("\"reachable\":false"), std::string::npos) << "no pair was marked down";
  EXPECT_FALSE(submitted_id(other->call(chat_submit("email"))).empty());
}

// A submit frame whose payload is exactly `payload_size` bytes. The builder pads a buffer to 8
// bytes, so the user data brings it within 8 below the size and zero bytes after the buffer
// (which the verifier accepts, and re-addressing copies along) make up the rest.
wire::Frame submit_frame(size_t payload_size, uint64_t ref) {
  int64_t pad = static_cast<int64_t>(payload_size) - 300;
  for (int attempt = 0; attempt < 8; ++attempt) {
    proto::RequestSubmitT r = chat_submit("email");
    r.user_data = wire::kv_list({{"pad", std::vector<uint8_t>(static_cast<size_t>(pad), 'x')}});
    wire::Frame frame = wire::encode_frame(ref, 0, r);
    const auto size = static_cast<int64_t>(frame.size() - wire::kFrameHeaderSize);
    const int64_t missing = static_cast<int64_t>(payload_size) - size;
    if (missing >= 0 && missing < 8) {
      frame.resize(frame.size() + static_cast<size_t>(missing), 0);
      const auto length = static_cast<uint32_t>(payload_size);
      std::memcpy(frame.data(), &length, 4);
      return frame;
    }
    pad += missing - 4;
  }
  ADD_FAILURE() << "no submit of " << payload_size << " bytes";
  return {};
}

// Issue 18 item 2: re-addressing adds a root table; a request that then exceeds the node's
// max-frame-size is answered FrameTooLarge by the proxy, alone, and the link stays up.
TEST_F(ContainmentCluster, RequestsThatGrowPastTheNodesFrameLimitFailAloneAndTheLinkStays) {
  start_pair(0);
  start_pair(1);
  start_proxy(0);
  const size_t limit = wire::kDefaultMaxFrameSize;  // proxy and nodes: the default max-frame-size
  const size_t growth = wire::readdress_envelope(std::span<const uint8_t>(wire::encode_ack(1, 0)).subspan(4), 1, 0).size() -
                        wire::encode_ack(1, 0).size();
  ASSERT_EQ(growth, 56u);
  auto media = proxy_client(0, proto::ClientType::MediaServer);
  const auto connects = [&] {
    nlohmann::json status = nlohmann::json::parse(proxy_status(0));
    uint64_t total = 0;
    for (const auto& worker : status["workers"]) {
      for (const auto& pair : worker["pairs"]) {
        for (const auto& node : pair["nodes"]) total += node.value("connects", uint64_t{0});
      }
    }
    return total;
  };
  const uint64_t connects_before = connects();

  // After re-addressing: limit-1 and limit reach the node; limit+1 does not.
  for (size_t after : {limit - 1, limit, limit + 1}) {
    EnvelopePtr reply = media->request(submit_frame(after - growth, media->next_ref()));
    if (after <= limit) {
      EXPECT_FALSE(submitted_id(reply).empty()) << after << " bytes re-addressed: " << error_text(reply);
    } else {
      EXPECT_EQ(error_code(reply), code(proto::ErrorCode::FrameTooLarge)) << error_text(reply);
      EXPECT_NE(error_text(reply).find("max-frame-size"), std::string::npos) << error_text(reply);
    }
    ASSERT_FALSE(media->closed());
  }
  // Before re-addressing: limit-1 and limit pass the proxy's own check and then exceed the
  // node's; limit+1 is refused by the proxy's framing, which closes that client only.
  for (size_t before : {limit - 1, limit}) {
    EnvelopePtr reply = media->request(submit_frame(before, media->next_ref()));
    EXPECT_EQ(error_code(reply), code(proto::ErrorCode::FrameTooLarge)) << before << ": " << error_text(reply);
    ASSERT_FALSE(media->closed());
  }
  EXPECT_FALSE(submitted_id(media->call(chat_submit("email"))).empty()) << "the client and the link carry on";
  auto bystander = proxy_client(0, proto::ClientType::MediaServer);
  media->request(submit_frame(limit + 1, media->next_ref()), 3000);  // FrameTooLarge with ref_id 0, then closed
  EXPECT_TRUE(loop_.run_until([&] { return media->closed(); }, 3000)) << "a frame over the limit loses the framing";
  EXPECT_FALSE(submitted_id(bystander->call(chat_submit("email"))).empty());
  EXPECT_EQ(connects(), connects_before) << "no link to a node was dropped and re-established";
}

// A fake pair-2 primary whose answer to RequestGetProperties depends on the interaction ID:
// kBad* a truncated buffer, kBig* a reply over the proxy's max-frame-size, kLate* a reply after
// the request-timeout, kSlow* a good reply after 300 ms, anything else a good reply at once.
// It answers pings (unless silenced) and acks every other request.
constexpr const char* kGood = "p2-0000000000000001";
constexpr const char* kBad = "p2-00000000000000b0";
constexpr const char* kBig = "p2-00000000000000b1";
constexpr const char* kLate = "p2-00000000000000c0";
constexpr const char* kSlow = "p2-00000000000000c1";

class ScriptedNode {
 public:
  ScriptedNode(uv_loop_t* loop, uint16_t port, bool close_at_once = false) : loop_(loop), close_at_once_(close_at_once) {
    auto listener = net::Listener::listen(loop, net::Endpoint{"127.0.0.1", port}, {},
                                          [this](std::shared_ptr<net::Connection> c) { on_accept(std::move(c)); });
    EXPECT_TRUE(listener) << "fake node cannot listen on " << port;
    if (listener) listener_ = std::move(*listener);
  }
  ~ScriptedNode() {
    if (listener_) listener_->close();
    timers_.clear();
    for (auto& c : channels_) c->connection().abort("test over");
  }

  int accepted = 0;
  int pings = 0;
  int logins = 0;
  bool silent = false;  // answers nothing, pings included

 private:
  void on_accept(std::shared_ptr<net::Connection> connection) {
    ++accepted;
    if (close_at_once_) {
      connection->start();
      connection->close("fake backup closes at once");
      return;
    }
    auto channel = std::make_unique<net::MessageChannel>(connection, net::ChannelOptions{});
    net::MessageChannel* c = channel.get();
    c->set_on_message([this, c](const proto::Envelope& e) { on_message(*c, e); });
    connection->set_on_close([](const std::string&) {});
    connection->start();
    channels_.push_back(std::move(channel));
  }

  void later(uint64_t ms, std::function<void()> fn) {
    timers_.push_back(std::make_unique<net::Timer>(loop_));
    timers_.back()->start(ms, std::move(fn));
  }

  void on_message(net::MessageChannel& c, const proto::Envelope& e) {
    const uint64_t ref = e.ref_id(), client = e.client_id();
    if (e.body_type() == proto::Message::RequestRegisterClient) {
      proto::EventClientRegisteredT registered;
      registered.role = proto::ServerRole::Primary;
      registered.node_id = "pair-2";
      registered.protocol_version = wire::kProtocolVersion;
      c.send(wire::encode_frame(ref, 0, registered));
      return;
    }
    if (silent) return;
    if (e.body_type() == proto::Message::RequestPing) {
      ++pings;
      c.send(wire::encode_frame(ref, client, proto::EventPongT{}));
      return;
    }
    if (e.body_type() == proto::Message::RequestAgentLogin) ++logins;
    const proto::RequestGetProperties* get = e.body_as_RequestGetProperties();
    if (!get) {
      c.send(wire::encode_ack(ref, client));
      return;
    }
    const std::string id = wire::str(get->interaction_id());
    proto::EventPropertiesT properties;
    properties.interaction = std::make_unique<proto::InteractionInfoT>();
    properties.interaction->interaction_id = id;
    properties.interaction->tenant_id = "101";
    properties.interaction->node_id = "pair-2";
    if (id == kBig) properties.interaction->user_data = wire::kv_list({{"blob", std::vector<uint8_t>(wire::kDefaultMaxFrameSize + 1000, 'x')}});
    wire::Frame frame = wire::encode_frame(ref, client, properties);
    if (id == kBad) {
      // The root table (at the front) stays readable; the body's offsets point past the end.
      frame.resize(frame.size() - 16);
      const auto length = static_cast<uint32_t>(frame.size() - wire::kFrameHeaderSize);
      std::memcpy(frame.data(), &length, 4);
    }
    auto conn = c.connection_ptr();
    auto send = [conn, frame = std::move(frame)] {
      if (!conn->is_closing()) conn->write(frame);
    };
    if (id == kLate) return later(3500, send);  // the proxy's request-timeout is 3 s
    if (id == kSlow) return later(300, send);
    send();
  }

  uv_loop_t* loop_;
  bool close_at_once_;
  std::unique_ptr<net::Listener> listener_;
  std::vector<std::unique_ptr<net::MessageChannel>> channels_;
  std::vector<std::unique_ptr<net::Timer>> timers_;
};

class ContainmentFakeNode : public ClusterFixture {
 protected:
  void start_with_fake() {
    choose_ports_before_start();  // the fake node listens where the file puts pair-2
    start_pair(0);
    fake_ = std::make_unique<ScriptedNode>(loop_.get(), node_ports_[1][0].first);
    fake_backup_ = std::make_unique<ScriptedNode>(loop_.get(), node_ports_[1][1].first, true);
    start_proxy(0);
  }
  EnvelopePtr get_properties(ProtocolClient& client, const std::string& id) {
    proto::RequestGetPropertiesT get;
    get.interaction_id = id;
    return client.call(get);
  }
  uint64_t pair2_connects() {
    nlohmann::json status = nlohmann::json::parse(proxy_status(0));
    uint64_t total = 0;
    for (const auto& worker : status["workers"]) total += worker["pairs"][1]["nodes"][0].value("connects", uint64_t{0});
    return total;
  }
  void TearDown() override {
    fake_.reset();
    fake_backup_.reset();
    ClusterFixture::TearDown();
  }
  std::unique_ptr<ScriptedNode> fake_, fake_backup_;
};

// Issue 18 item 1: a reply that cannot be verified, or is too large, fails only its own request,
// at once, with a specific error naming the node; requests in flight beside it and the next
// ones on the same link are answered normally.
TEST_F(ContainmentFakeNode, UnreadableRepliesFailOnlyTheirOwnRequestAtOnce) {
  start_with_fake();
  auto media = proxy_client(0, proto::ClientType::MediaServer);
  const uint64_t connects_before = pair2_connects();
  proto::RequestGetPropertiesT slow;
  slow.interaction_id = kSlow;
  const uint64_t slow_ref = media->send(slow);  // in flight on the link while the bad replies arrive

  for (const auto& [id, expected] : {std::pair{kBad, proto::ErrorCode::MalformedMessage}, std::pair{kBig, proto::ErrorCode::FrameTooLarge}}) {
    const uint64_t started = uv_now(loop_.get());
    EnvelopePtr reply = get_properties(*media, id);
    EXPECT_EQ(error_code(reply), code(expected)) << id << ": " << error_text(reply);
    EXPECT_NE(error_text(reply).find("pair-2 primary"), std::string::npos) << error_text(reply);
    EXPECT_LT(uv_now(loop_.get()) - started, 1000u) << id << ": at once, not after the request-timeout";
    EnvelopePtr good = get_properties(*media, kGood);
    ASSERT_TRUE(good && good->body.AsEventProperties()) << "the next request on the link: " << error_text(good);
  }
  EnvelopePtr slow_reply = media->wait_reply(slow_ref);
  ASSERT_TRUE(slow_reply && slow_reply->body.AsEventProperties()) << error_text(slow_reply);
  EXPECT_EQ(pair2_connects(), connects_before) << "the link stayed up";
  EXPECT_EQ(fake_->accepted, 2) << "one connection per worker, never re-established";
}

// Issue 18 item 3: one reply that misses its deadline fails its request with 2002 in time, the
// node is probed instead of dropped, and the agents on the link are not logged in again; a node
// that then stops answering altogether is still dropped within request-timeout + probe timeout.
TEST_F(ContainmentFakeNode, OneMissedDeadlineKeepsTheLinkAndItsAgents) {
  start_with_fake();
  auto desktop = proxy_client(0, proto::ClientType::AgentApplication);
  ASSERT_TRUE(log_in_ready(*desktop, "a1", 7));
  ASSERT_EQ(fake_->logins, 1);
  auto media = proxy_client(0, proto::ClientType::MediaServer);
  const uint64_t connects_before = pair2_connects();

  const uint64_t started = uv_now(loop_.get());
  EnvelopePtr late = get_properties(*media, kLate);
  EXPECT_EQ(error_code(late), code(proto::ErrorCode::ClusterLostConnection)) << error_text(late);
  EXPECT_GE(uv_now(loop_.get()) - started, 2900u);
  EXPECT_LT(uv_now(loop_.get()) - started, 3800u) << "answered at the request-timeout (3 s)";
  EnvelopePtr good = get_properties(*media, kGood);
  ASSERT_TRUE(good && good->body.AsEventProperties()) << "the link carries on: " << error_text(good);
  EXPECT_TRUE(loop_.run_until([&] { return fake_->pings >= 1; }, 2000)) << "the suspect node was probed";
  loop_.run_for(800);  // the late reply arrives (and is dropped); nothing else may happen
  EXPECT_EQ(pair2_connects(), connects_before) << "the link was not dropped";
  EXPECT_EQ(fake_->logins, 1) << "no logout/login of the agents on the link";
  EXPECT_TRUE(log_in_ready(*desktop, "a2", 8)) << "other requests keep working";

  // A node that stops answering altogether: that request fails at its deadline, the probe goes
  // unanswered, and the pair is known down within request-timeout + 1 s.
  fake_->silent = true;
  const uint64_t stalled = uv_now(loop_.get());
  EnvelopePtr lost = get_properties(*media, kGood);
  EXPECT_EQ(error_code(lost), code(proto::ErrorCode::ClusterLostConnection)) << error_text(lost);
  EXPECT_TRUE(loop_.run_until([&] {
    return error_code(get_properties(*media, kGood)) == code(proto::ErrorCode::ClusterInteractionNotAccessible);
  }, 3000)) << "pair-2 marked unreachable after the failed probe";
  EXPECT_LT(uv_now(loop_.get()) - stalled, 3000u + 1000u + 1500u);
}

}  // namespace
}  // namespace ix::test
