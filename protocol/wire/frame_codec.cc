#include "protocol/wire/frame_codec.h"

namespace ix::wire {

void append_frame(std::vector<uint8_t>& out, std::span<const uint8_t> payload) {
  const auto length = static_cast<uint32_t>(payload.size());
  const uint8_t header[kFrameHeaderSize] = {
      static_cast<uint8_t>(length), static_cast<uint8_t>(length >> 8),
      static_cast<uint8_t>(length >> 16), static_cast<uint8_t>(length >> 24)};
  out.insert(out.end(), header, header + kFrameHeaderSize);
  out.insert(out.end(), payload.begin(), payload.end());
}

std::vector<uint8_t> make_frame(std::span<const uint8_t> payload) {
  std::vector<uint8_t> out;
  out.reserve(kFrameHeaderSize + payload.size());
  append_frame(out, payload);
  return out;
}

FrameDecoder::FrameDecoder(size_t max_frame_size, OversizedFrames oversized)
    : max_frame_size_(max_frame_size), oversized_(oversized) {
  partial_.resize(2);  // room for the header at offset 4
}

uint8_t* FrameDecoder::scratch(size_t size) {
  if (scratch_.size() * 8 < size) scratch_.resize((size + 7) / 8);
  return reinterpret_cast<uint8_t*>(scratch_.data());
}

}  // namespace ix::wire
