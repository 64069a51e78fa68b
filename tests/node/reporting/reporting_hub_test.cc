// ReportingHub's catch-up (issue 18 item 10: "a node's reporting catch-up reads its log
// synchronously on the event loop"). A subscriber that resumes from an old seq reads its backlog
// from the event log; with a log that takes as long as the test says (SlowLogStore, the reader
// thread SqliteStore and PostgresStore use), the node's loop keeps turning while the read is in
// the log, and the backlog reaches the subscriber, re-addressed to its client, once it is read.
#include "node/reporting/reporting_hub.h"

#include <gtest/gtest.h>


#include "protocol/wire/frame_codec.h"
#include "protocol/wire/messages.h"
#include "tests/node/store/slow_log_store.h"
#include "tests/support/test_loop.h"

namespace ix::node {
namespace {

// Where the subscription's frames go: decoded and kept.
class RecordingChannel final : public ReportingChannel {
 public:
  void send(std::span<const uint8_t> frame) override { decode(frame); }
  void send(wire::Frame&& frame) override { decode(frame); }
  void send_error(uint64_t, uint64_t, proto::ErrorCode code, std::string text) override {
    errors.push_back(std::to_string(static_cast<int>(code)) + " " + text);
  }
  size_t queued_bytes() const override { return 0; }
  void disconnect(const std::string& reason) override { errors.push_back("disconnected: " + reason); }

  std::vector<std::unique_ptr<proto::EnvelopeT>> received;
  std::vector<std::string> errors;

 private:
  void decode(std::span<const uint8_t> frames) {
    wire::FrameDecoder decoder;
    decoder.feed(frames, [&](std::span<const uint8_t> payload) {
      received.emplace_back(proto::GetEnvelope(payload.data())->UnPack());
    });
  }
};

TEST(ReportingHub, ASubscriberCatchingUpFromAnOldSeqIsServedOffTheLoop) {
  test::TestLoop loop;
  {
    test::SlowLogStore store(loop.get());
    ReportingHub hub(loop.get(), "pair-1", store);
    hub.reset(6);  // the log holds events up to seq 6
    proto::EventPlacedInQueueT placed;
    placed.header = std::make_unique<proto::ReportingHeaderT>();
    placed.header->node_id = "pair-1";
    placed.header->seq = 6;
    placed.header->tenant_id = "101";
    placed.interaction_id = "p1-6";
    placed.queue = "inbound";
    store.frame = wire::encode_frame(0, 0, placed);

    RecordingChannel channel;
    ASSERT_TRUE(hub.subscribe(&channel, 9, {}, true, true, uint64_t{5}).ok());
    ASSERT_TRUE(loop.run_until([&] { return store.reading.load(); }, 5000)) << "the backlog was never read";

    // The read is in the log; the node's loop goes on turning (its timers, its clients).
    EXPECT_TRUE(loop_keeps_turning(loop)) << "the loop stalled while the log was read";
    EXPECT_NE(store.read_on.load(), std::this_thread::get_id()) << "the log was read on the loop's thread";
    EXPECT_TRUE(channel.received.empty());

    store.released = true;
    ASSERT_TRUE(loop.run_until([&] { return !channel.received.empty(); }, 5000)) << "the backlog never arrived";
    EXPECT_TRUE(channel.errors.empty()) << channel.errors.front();
    const proto::EnvelopeT& got = *channel.received.front();
    EXPECT_EQ(got.client_id, 9u) << "re-addressed to the subscriber's client";
    const proto::EventPlacedInQueueT* event = got.body.AsEventPlacedInQueue();
    ASSERT_NE(event, nullptr);
    EXPECT_EQ(event->header->seq, 6u);
    EXPECT_EQ(event->interaction_id, "p1-6");
    hub.unsubscribe(&channel);
  }
  loop.run_for(10);  // the mailbox, the hub's and the test's timers close on the next turns
}

}  // namespace
}  // namespace ix::node
