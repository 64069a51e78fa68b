// libFuzzer target: the FlatBuffers verifier on one payload. Whatever it accepts must be safe
// to read in full (UnPack touches every field), must survive a re-encode, and must survive being
// re-addressed the way the proxy forwards it (readdress_envelope) with nothing but the ref_id
// and client_id changed.
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
  ix::wire::Frame moved = ix::wire::readdress_envelope(payload, 0xfeed, 0);
  const size_t moved_size = moved.size() - ix::wire::kFrameHeaderSize;
  std::unique_ptr<uint64_t[]> moved_aligned(new uint64_t[moved_size / 8 + 1]);
  std::memcpy(moved_aligned.get(), moved.data() + ix::wire::kFrameHeaderSize, moved_size);
  auto readdressed = ix::wire::verify_envelope(std::span(reinterpret_cast<const uint8_t*>(moved_aligned.get()), moved_size));
  if (!readdressed.ok()) {
    std::fprintf(stderr, "re-addressed buffer rejected: %s\n", readdressed.error().text.c_str());
    std::abort();
  }
  std::unique_ptr<ix::proto::EnvelopeT> moved_native((*readdressed)->UnPack());
  if (moved_native->ref_id != 0xfeed || moved_native->client_id != 0) std::abort();
  moved_native->ref_id = native->ref_id;
  moved_native->client_id = native->client_id;
  if (!(*moved_native == *native)) {
    std::fprintf(stderr, "re-addressing changed the message\n");
    std::abort();
  }
  return 0;
}
