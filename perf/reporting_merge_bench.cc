// The merged reporting stream's core in one process, on one core, no sockets: 4 sources (pairs)
// each with its own ordered events, interleaved by event time, through proxy::ReportingMerge —
//   merge    ReportingMerge alone: push every event, release what may go (as a worker does for
//            each event that arrives), the payload shared, never copied;
//   worker   what a worker does per event on top of the merge: copy the node's frame into a
//            shared buffer (the link's read buffer is reused), read its header, the agent
//            de-duplication key, and the frame re-addressed to one client.
// Events are real EventPlacedInQueue envelopes with a ReportingHeader. Prints events/s.
//
//   reporting_merge_bench [events=2000000]
#include <uv.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

#include "protocol/wire/messages.h"
#include "proxy/reporting/agent_event_dedupe.h"
#include "proxy/reporting/reporting_merge.h"

namespace {

using namespace ix;

constexpr size_t kSources = 4;

wire::Frame placed_event(size_t pair, uint64_t seq, int64_t timestamp_us) {
  proto::EventPlacedInQueueT placed;
  placed.header = std::make_unique<proto::ReportingHeaderT>();
  placed.header->node_id = "pair-" + std::to_string(pair + 1);
  placed.header->seq = seq;
  placed.header->timestamp_us = timestamp_us;
  placed.header->tenant_id = "101";
  placed.interaction_id = "b" + std::to_string(pair + 1) + "-00000000" + std::to_string(10000000 + seq % 10000000);
  placed.queue = "inbound";
  return wire::encode_frame(0, 0, placed);
}

}  // namespace

int main(int argc, char** argv) {
  const size_t events = argc > 1 ? static_cast<size_t>(std::atoll(argv[1])) : 2'000'000;
  // Each source's events: a fixed set of frames reused round-robin (the content does not
  // matter to the merge; the timestamps do: every source advances by about the same step, with
  // jitter, so the sources interleave as live pairs do).
  constexpr size_t kDistinct = 1024;
  std::vector<std::shared_ptr<const std::vector<uint8_t>>> frames[kSources];
  for (size_t s = 0; s < kSources; ++s) {
    for (size_t i = 0; i < kDistinct; ++i) {
      wire::Frame f = placed_event(s, i + 1, 0);
      frames[s].push_back(std::make_shared<const std::vector<uint8_t>>(f.begin() + wire::kFrameHeaderSize, f.end()));
    }
  }
  auto timestamp = [](size_t source, uint64_t seq) {
    return static_cast<int64_t>(seq * 40 + (seq * 7919 + source * 104729) % 37);  // monotonic per source
  };

  std::printf("reporting_merge_bench: %zu events from %zu sources, one thread\n", events, kSources);
  // merge: the core alone.
  {
    proxy::ReportingMerge merge(kSources, 50'000);
    size_t released = 0;
    const uint64_t t0 = uv_hrtime();
    const size_t per_source = events / kSources;
    for (uint64_t seq = 1; seq <= per_source; ++seq) {
      for (size_t s = 0; s < kSources; ++s) {
        const int64_t ts = timestamp(s, seq);
        merge.push({s, seq, ts, frames[s][seq % kDistinct]});
        released += merge.release(ts).size();
      }
    }
    released += merge.release(INT64_MAX / 2).size();
    const double seconds = static_cast<double>(uv_hrtime() - t0) / 1e9;
    std::printf("  merge   %12.0f events/s (%zu released in %.3f s)\n", static_cast<double>(released) / seconds, released, seconds);
  }
  // worker: the per-event work around the merge, as the proxy's worker does it.
  {
    proxy::ReportingMerge merge(kSources, 50'000);
    size_t released = 0, bytes = 0;
    const uint64_t t0 = uv_hrtime();
    const size_t per_source = events / kSources;
    std::vector<uint8_t> out;  // the client's connection buffer, flushed in chunks
    for (uint64_t seq = 1; seq <= per_source; ++seq) {
      for (size_t s = 0; s < kSources; ++s) {
        const int64_t ts = timestamp(s, seq);
        const std::vector<uint8_t>& read = *frames[s][seq % kDistinct];
        merge.push({s, seq, ts, std::make_shared<const std::vector<uint8_t>>(read.begin(), read.end())});
        for (proxy::MergedEvent& e : merge.release(ts)) {
          const proto::Envelope* envelope = proto::GetEnvelope(e.payload->data());
          const proto::ReportingHeader* header = wire::reporting_header(*envelope);
          std::string tenant = header->tenant_id() ? header->tenant_id()->str() : "";
          if (proxy::agent_event_key(*envelope)) std::abort();
          wire::Frame f = wire::readdress_envelope(*e.payload, 0, 7);
          out.insert(out.end(), f.begin(), f.end());
          if (out.size() > 64 * 1024) {
            bytes += out.size();
            out.clear();
          }
          ++released;
        }
      }
    }
    released += merge.release(INT64_MAX / 2).size();
    const double seconds = static_cast<double>(uv_hrtime() - t0) / 1e9;
    std::printf("  worker  %12.0f events/s (%zu released, %zu bytes out, in %.3f s)\n", static_cast<double>(released) / seconds,
                released, bytes, seconds);
  }
  return 0;
}
