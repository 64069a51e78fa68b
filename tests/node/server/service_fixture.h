// ServiceFixture: an InteractionService in process, for handler tests without sockets or
// processes. The service runs on a MemoryStore (commits complete on the next loop turn, or held
// until pump()), a ManualClock, and RecordingSessions that keep every frame sent to them.
#pragma once

#include <gtest/gtest.h>

#include <deque>
#include <memory>

#include "cluster-config/loader.h"
#include "node/server/interaction_service.h"
#include "node/store/memory_store.h"
#include "protocol/wire/frame_codec.h"
#include "tests/node/server/manual_clock.h"
#include "tests/support/test_loop.h"

namespace ix::test {

using EnvelopePtr = std::unique_ptr<proto::EnvelopeT>;

// A client session that records what the service sends it.
class RecordingSession final : public node::ClientSession {
 public:
  explicit RecordingSession(proto::ClientType type) : type_(type) {}
  void send(std::span<const uint8_t> frame) override { record(frame); }
  void send(wire::Frame&& frame) override { record(frame); }
  void send_error(uint64_t ref_id, uint64_t client_id, proto::ErrorCode code, std::string text) override {
    record(wire::encode_error(ref_id, client_id, code, std::move(text)));
  }
  proto::ClientType client_type() const override { return type_; }
  size_t queued_bytes() const override { return queued_bytes_; }
  void disconnect(const std::string& reason) override { disconnected_ = reason; }

  // The frames received and not taken yet, oldest first.
  std::deque<EnvelopePtr> received;
  // Takes the first frame answering ref_id (null when there is none).
  EnvelopePtr reply(uint64_t ref_id) {
    for (auto it = received.begin(); it != received.end(); ++it) {
      if ((*it)->ref_id != ref_id) continue;
      EnvelopePtr e = std::move(*it);
      received.erase(it);
      return e;
    }
    return nullptr;
  }
  // Takes the first unsolicited event (ref_id 0) of a type.
  EnvelopePtr event(proto::Message type) {
    for (auto it = received.begin(); it != received.end(); ++it) {
      if ((*it)->ref_id != 0 || (*it)->body.type != type) continue;
      EnvelopePtr e = std::move(*it);
      received.erase(it);
      return e;
    }
    return nullptr;
  }
  size_t queued_bytes_ = 0;
  std::string disconnected_;

 private:
  // One send may carry several frames back to back (a reporting backlog chunk is one write).
  void record(std::span<const uint8_t> bytes) {
    while (!bytes.empty()) {
      ASSERT_GE(bytes.size(), wire::kFrameHeaderSize) << "the service sent a cut frame";
      const size_t size = wire::kFrameHeaderSize + wire::read_frame_length(bytes.data());
      ASSERT_LE(size, bytes.size()) << "the service sent a cut frame";
      auto envelope = wire::verify_envelope(bytes.subspan(wire::kFrameHeaderSize, size - wire::kFrameHeaderSize));
      ASSERT_TRUE(envelope.ok()) << "the service sent a frame that does not verify";
      received.emplace_back((*envelope)->UnPack());
      bytes = bytes.subspan(size);
    }
  }
  proto::ClientType type_;
};

inline bool acked(const EnvelopePtr& e) { return e && e->body.type == proto::Message::EventAck; }
inline const proto::EventErrorT* as_error(const EnvelopePtr& e) { return e ? e->body.AsEventError() : nullptr; }
inline proto::ErrorCode error_code(const EnvelopePtr& e) { return as_error(e) ? static_cast<proto::ErrorCode>(as_error(e)->code) : proto::ErrorCode::None;
}

class ServiceFixture : public ::testing::Test {
 protected:
  static std::string config_text() {
    return R"(
[[tenants]]
id = "101"
[[tenants]]
id = "202"
[[media-types]]
name = "chat"
[[media-types]]
name = "email"
[[node-pairs]]
id = "pair-1"
tag = "p1"
tenants = ["101"]
media-types = ["chat", "email"]
agent-seats = 2
[node-pairs.primary]
host = "127.0.0.1"
port = 7001
admin-port = 7002
[node-pairs.backup]
host = "127.0.0.1"
port = 7003
admin-port = 7004
[node-pairs.storage]
sqlite-path = "unused.db"
[node-pairs.settings]
delivering-timeout = "1s"
handling-timeout = "3s"
pull-hold-timeout = "10s"
[[queues]]
id = "inbound"
tenant = "101"
[[queues]]
id = "vip"
tenant = "101"
[[queues]]
id = "other-tenant"
tenant = "202"
[[views]]
id = "all-inbound"
tenant = "101"
queues = ["inbound", "vip"]
[[views]]
id = "filtered"
tenant = "101"
queues = ["inbound"]
condition = "priority > 3"
[[workbin-types]]
id = "drafts"
tenant = "101"
owner = "agent"
[[workbin-types]]
id = "team"
tenant = "101"
owner = "place"
[[agents]]
id = "a1"
tenant = "101"
[[agents]]
id = "a2"
tenant = "101"
[[agents]]
id = "a3"
tenant = "101"
)";
  }

  void SetUp() override {
    config::LoadResult loaded = config::load_config_text(config_text(), "service_fixture.toml", "/tmp");
    ASSERT_TRUE(loaded.ok()) << loaded.error_text();
    config_ = loaded.config;
    start_service();
  }
  void TearDown() override {
    service_.reset();
    store_.close();
    loop_.close();
  }

  // (Re)builds the service from what the store holds, as a new primary does.
  void start_service() {
    service_.reset();
    service_ = std::make_unique<node::InteractionService>(loop_.get(), config_, "pair-1", store_, clock_, metrics_);
    ASSERT_TRUE(service_->load().ok());
    service_->set_on_fatal([this](const std::string& why) { fatal_ = why; });
    for (RecordingSession* s : {&media_, &router_, &desktop_, &desktop2_, &proxy_, &reporter_}) service_->session_opened(*s);
  }

  // Sends a request and runs the loop until it is answered (commits complete on a loop turn).
  template <class Native>
  EnvelopePtr call(RecordingSession& s, const Native& request, uint64_t client_id = 0) {
    const uint64_t ref = ++next_ref_;
    send(s, request, ref, client_id);
    EnvelopePtr reply;
    loop_.run_until([&] { return (reply = s.reply(ref)) != nullptr; }, 2000);
    return reply;
  }
  // Hands a request to the service without running the loop; returns its ref_id.
  template <class Native>
  uint64_t send(RecordingSession& s, const Native& request, uint64_t ref = 0, uint64_t client_id = 0) {
    if (ref == 0) ref = ++next_ref_;
    wire::Frame frame = wire::encode_frame(ref, client_id, request);
    frames_.push_back(std::move(frame));
    auto envelope = wire::verify_envelope(std::span<const uint8_t>(frames_.back()).subspan(wire::kFrameHeaderSize));
    EXPECT_TRUE(envelope.ok());
    service_->handle(s, **envelope);
    return ref;
  }
  // Runs loop turns until every queued commit has completed.
  void settle() { loop_.run_until([&] { return store_.queued() == 0; }, 2000); loop_.run_for(1); }

  std::string submit(const std::string& queue = "inbound", int priority = 0, const std::string& media = "chat") {
    proto::RequestSubmitT r;
    r.tenant_id = "101";
    r.media_type = media;
    r.queue = queue;
    r.priority = priority;
    EnvelopePtr reply = call(media_, r);
    return reply && reply->body.AsEventSubmitted() ? reply->body.AsEventSubmitted()->interaction_id : "";
  }
  void login(RecordingSession& desktop, const std::string& agent, const std::string& place, int capacity = 1) {
    proto::RequestAgentLoginT login;
    login.tenant_id = "101";
    login.agent_id = agent;
    login.place_id = place;
    auto chat = std::make_unique<proto::MediaCapacityT>();
    chat->media_type = "chat";
    chat->capacity = capacity;
    login.media.push_back(std::move(chat));
    ASSERT_TRUE(acked(call(desktop, login)));
  }
  void ready(RecordingSession& desktop, const std::string& agent) {
    proto::RequestAgentReadyT r;
    r.agent_id = agent;
    ASSERT_TRUE(acked(call(desktop, r)));
  }
  EnvelopePtr deliver(const std::string& id, const std::string& agent = "a1") {
    proto::RequestDeliverT d;
    d.interaction_id = id;
    d.agent_id = agent;
    return call(router_, d);
  }
  // The ticket of the last invitation the desktop received (0 when there is none).
  uint64_t take_invite(RecordingSession& desktop) {
    EnvelopePtr invite = desktop.event(proto::Message::EventInvite);
    return invite ? invite->body.AsEventInvite()->ticket_id : 0;
  }
  EnvelopePtr accept(RecordingSession& desktop, const std::string& id, uint64_t ticket, const std::string& agent = "a1") {
    proto::RequestAcceptT a;
    a.interaction_id = id;
    a.agent_id = agent;
    a.ticket_id = ticket;
    return call(desktop, a);
  }
  proto::InteractionState state_of(const std::string& id) {
    const proto::InteractionInfoT* i = find(id);
    return i ? i->state : proto::InteractionState::Unknown;
  }
  const proto::InteractionInfoT* find(const std::string& id) { return service_->interactions().find(id); }

  TestLoop loop_;
  node::MemoryStore store_{loop_.get()};
  ManualClock clock_;
  metrics::Registry registry_;
  node::NodeMetrics metrics_{registry_};
  std::shared_ptr<const config::ClusterConfig> config_;
  std::unique_ptr<node::InteractionService> service_;
  RecordingSession media_{proto::ClientType::MediaServer};
  RecordingSession router_{proto::ClientType::RoutingEngine};
  RecordingSession desktop_{proto::ClientType::AgentApplication};
  RecordingSession desktop2_{proto::ClientType::AgentApplication};
  RecordingSession proxy_{proto::ClientType::Proxy};
  RecordingSession reporter_{proto::ClientType::ReportingEngine};
  std::deque<wire::Frame> frames_;
  uint64_t next_ref_ = 0;
  std::string fatal_;
};

}  // namespace ix::test
