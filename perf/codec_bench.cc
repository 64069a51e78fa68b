// Frame codec benchmarks: encode (native message -> frame) and decode (bytes -> verified
// envelope -> fields read) for the three shapes that dominate traffic: a typical submit, a
// typical reporting event, and a result carrying 100 interactions.
#include <benchmark/benchmark.h>

#include "protocol/wire/kv.h"
#include "protocol/wire/messages.h"

namespace {

using namespace ix;

proto::RequestSubmitT typical_submit() {
  proto::RequestSubmitT submit;
  submit.tenant_id = "101";
  submit.media_type = "chat";
  submit.queue = "inbound-chat";
  submit.interaction_type = "Inbound";
  submit.interaction_subtype = "InboundNew";
  submit.priority = 5;
  submit.user_data = wire::kv_list({{"Subject", "Where is my order 55021?"},
                                    {"CustomerId", "c-88213"},
                                    {"Language", "en"},
                                    {"Segment", "gold"},
                                    {"Score", 42}});
  return submit;
}

proto::EventPlacedInQueueT typical_event() {
  proto::EventPlacedInQueueT event;
  event.header = std::make_unique<proto::ReportingHeaderT>();
  event.header->node_id = "pair-1";
  event.header->seq = 918'273;
  event.header->timestamp_us = 1'763'700'000'000'000;
  event.header->tenant_id = "101";
  event.interaction_id = "p1-00000000000d8a1f";
  event.queue = "inbound-chat";
  return event;
}

proto::EventPulledT hundred_interactions() {
  proto::EventPulledT pulled;
  for (int i = 0; i < 100; ++i) {
    auto info = std::make_unique<proto::InteractionInfoT>();
    info->interaction_id = "p1-" + std::to_string(1'000'000 + i);
    info->tenant_id = "101";
    info->media_type = "email";
    info->queue = "inbound-email";
    info->priority = i % 10;
    info->state = proto::InteractionState::Queued;
    info->submitted_at_us = 1'763'700'000'000'000 + i;
    info->user_data = wire::kv_list({{"Subject", "Invoice question"}, {"CustomerId", "c-" + std::to_string(i)}, {"Score", i}});
    pulled.interactions.push_back(std::move(info));
  }
  return pulled;
}

template <class Native>
void encode(benchmark::State& state, const Native& message) {
  size_t bytes = 0;
  for (auto _ : state) {
    wire::Frame frame = wire::encode_frame(7, 0, message);
    bytes += frame.size();
    benchmark::DoNotOptimize(frame.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}

// Decodes a stream of 1,000 frames per iteration, as one read burst would deliver them, and
// touches the fields a consumer reads.
template <class Native, class Touch>
void decode(benchmark::State& state, const Native& message, Touch touch) {
  std::vector<uint8_t> stream;
  for (int i = 0; i < 1000; ++i) {
    wire::Frame frame = wire::encode_frame(static_cast<uint64_t>(i), 0, message);
    stream.insert(stream.end(), frame.begin(), frame.end());
  }
  wire::FrameDecoder decoder;
  uint64_t sink = 0;
  for (auto _ : state) {
    decoder.feed(stream, [&](std::span<const uint8_t> payload) {
      auto envelope = wire::verify_envelope(payload);
      if (!envelope.ok()) std::abort();
      sink += touch(**envelope);
    });
  }
  benchmark::DoNotOptimize(sink);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * 1000);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * stream.size()));
}

void BM_EncodeSubmit(benchmark::State& state) { encode(state, typical_submit()); }
void BM_EncodeReportingEvent(benchmark::State& state) { encode(state, typical_event()); }
void BM_EncodeResult100(benchmark::State& state) { encode(state, hundred_interactions()); }

void BM_DecodeSubmit(benchmark::State& state) {
  decode(state, typical_submit(), [](const proto::Envelope& e) {
    const auto* s = e.body_as_RequestSubmit();
    return s->media_type()->size() + static_cast<size_t>(wire::kv_int(s->user_data(), "Score").value_or(0));
  });
}
void BM_DecodeReportingEvent(benchmark::State& state) {
  decode(state, typical_event(), [](const proto::Envelope& e) {
    return wire::reporting_header(e)->seq() + e.body_as_EventPlacedInQueue()->interaction_id()->size();
  });
}
void BM_DecodeResult100(benchmark::State& state) {
  decode(state, hundred_interactions(), [](const proto::Envelope& e) {
    size_t n = 0;
    for (const auto* info : *e.body_as_EventPulled()->interactions()) n += info->interaction_id()->size();
    return n;
  });
}

BENCHMARK(BM_EncodeSubmit);
BENCHMARK(BM_EncodeReportingEvent);
BENCHMARK(BM_EncodeResult100);
BENCHMARK(BM_DecodeSubmit);
BENCHMARK(BM_DecodeReportingEvent);
BENCHMARK(BM_DecodeResult100);

}  // namespace

BENCHMARK_MAIN();
