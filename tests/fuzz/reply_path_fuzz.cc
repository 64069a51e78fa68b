// libFuzzer target: the proxy's reply path — bytes a node sends on the proxy's link, as
// NodeLink's channel reads them. The stream is cut into frames by a FrameDecoder in skip mode
// (a frame over the maximum is passed over, not fatal), every frame is verified, and a frame that
// fails verification or was skipped has its ids read from the root table alone
// (peek_envelope_ids) to fail exactly its request. Invariants: nothing crashes; peeking a buffer
// that verifies yields the envelope's own ids; a verified reply re-addressed for the client
// verifies again with the same limits (re-addressing adds no depth) and keeps its ids.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <span>

#include "protocol/wire/frame_codec.h"
#include "protocol/wire/messages.h"

namespace {

void check_frame(std::span<const uint8_t> payload) {
  auto envelope = ix::wire::verify_envelope(payload);
  std::optional<ix::wire::EnvelopeIds> ids = ix::wire::peek_envelope_ids(payload);
  if (!envelope.ok()) return;
  if (!ids || ids->ref_id != (*envelope)->ref_id() || ids->client_id != (*envelope)->client_id()) {
    std::fprintf(stderr, "peek_envelope_ids disagrees with the verified envelope\n");
    std::abort();
  }
  ix::wire::Frame moved = ix::wire::readdress_envelope(payload, 0xfeed, 0xbeef);
  const size_t size = moved.size() - ix::wire::kFrameHeaderSize;
  std::unique_ptr<uint64_t[]> aligned(new uint64_t[size / 8 + 1]);
  std::memcpy(aligned.get(), moved.data() + ix::wire::kFrameHeaderSize, size);
  std::span<const uint8_t> readdressed(reinterpret_cast<const uint8_t*>(aligned.get()), size);
  auto again = ix::wire::verify_envelope(readdressed);
  if (!again.ok()) {
    std::fprintf(stderr, "re-addressed reply rejected: %s\n", again.error().text.c_str());
    std::abort();
  }
  std::optional<ix::wire::EnvelopeIds> moved_ids = ix::wire::peek_envelope_ids(readdressed);
  if (!moved_ids || moved_ids->ref_id != 0xfeed || moved_ids->client_id != 0xbeef) std::abort();
  std::unique_ptr<ix::proto::EnvelopeT> native((*again)->UnPack());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  // The first byte picks how the stream is split across reads; the maximum is small so that
  // skipping is exercised.
  const size_t chunk = 1 + data[0] % 64;
  std::span<const uint8_t> stream(data + 1, size - 1);
  ix::wire::FrameDecoder decoder(4096, ix::wire::OversizedFrames::kSkip);
  for (size_t at = 0; at < stream.size(); at += chunk) {
    auto status = decoder.feed(
        stream.subspan(at, std::min(chunk, stream.size() - at)), [](std::span<const uint8_t> payload) { check_frame(payload); },
        [](uint64_t length, std::span<const uint8_t> prefix) {
          if (length <= 4096 || prefix.size() > ix::wire::kOversizedPrefix) std::abort();
          (void)ix::wire::peek_envelope_ids(prefix);
        });
    if (status != ix::wire::FrameDecoder::Status::kOk) std::abort();  // skip mode never gives up
  }
  return 0;
}
