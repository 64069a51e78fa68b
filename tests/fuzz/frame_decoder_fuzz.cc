// libFuzzer target: the frame decoder and the envelope verifier behind it, fed arbitrary bytes
// split into arbitrary reads — exactly what a peer controls.
#include <cstddef>
#include <cstdint>
#include <span>

#include "protocol/wire/frame_codec.h"
#include "protocol/wire/messages.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  // The first byte chooses the read size, so the fuzzer explores splits too.
  const size_t chunk = 1 + data[0] % 64;
  ix::wire::FrameDecoder decoder(64 * 1024);
  std::span<const uint8_t> input(data + 1, size - 1);
  while (!input.empty()) {
    size_t n = std::min(chunk, input.size());
    auto status = decoder.feed(input.first(n), [](std::span<const uint8_t> payload) {
      auto envelope = ix::wire::verify_envelope(payload);
      if (envelope.ok()) (void)ix::wire::reporting_header(**envelope);
    });
    if (status != ix::wire::FrameDecoder::Status::kOk) break;
    input = input.subspan(n);
  }
  return 0;
}
