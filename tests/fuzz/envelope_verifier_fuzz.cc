// libFuzzer target: the FlatBuffers verifier on one payload. Whatever it accepts must be safe
// to read in full (UnPack touches every field) and must survive a re-encode.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <span>

#include "protocol/wire/messages.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Frame payloads are handed out 8-byte aligned; do the same, in an exactly sized allocation.
  std::unique_ptr<uint64_t[]> aligned(new uint64_t[size / 8 + 1]);
  if (size > 0) std::memcpy(aligned.get(), data, size);
  std::span<const uint8_t> payload(reinterpret_cast<const uint8_t*>(aligned.get()), size);
  auto envelope = ix::wire::verify_envelope(payload);
  if (!envelope.ok()) return 0;
  std::unique_ptr<ix::proto::EnvelopeT> native((*envelope)->UnPack());
  ix::wire::Frame again = ix::wire::encode_envelope(*native);
  auto reverified = ix::wire::verify_envelope(std::span(again).subspan(ix::wire::kFrameHeaderSize));
  if (!reverified.ok()) {
    // Our own encoder produced a buffer we reject.
    std::fprintf(stderr, "re-encoded buffer rejected: %s\n", reverified.error().text.c_str());
    std::abort();
  }
  return 0;
}
