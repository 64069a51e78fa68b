// The frame codec: every message on the wire is a 4-byte little-endian payload length followed by
// that many bytes of FlatBuffers buffer (DESIGN.md §3).
//
// FrameDecoder is incremental: feed it whatever a read returned and it hands out every complete
// frame, however frames were split across reads or packed into one. It never buffers more than
// one frame, and it refuses a frame whose declared length exceeds the configured maximum before
// reading its body. Payloads are handed out 8-byte aligned, as FlatBuffers readers require.
// By default such a frame is fatal (a server cannot trust a peer that declares absurd lengths).
// With OversizedFrames::kSkip — the proxy's side of its link to a node, where one large reply
// must not cost every other request on the link — the decoder skips the frame's bytes without
// buffering them, keeps the framing, and hands out the frame's first kOversizedPrefix bytes
// (enough to read the Envelope's root table: wire::peek_envelope_ids) once it has passed.
// One decoder belongs to one connection and is touched by that connection's loop thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <algorithm>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace ix::wire {

inline constexpr size_t kFrameHeaderSize = 4;
inline constexpr size_t kDefaultMaxFrameSize = 4 * 1024 * 1024;

// Appends one frame (header + payload) to out.
void append_frame(std::vector<uint8_t>& out, std::span<const uint8_t> payload);
std::vector<uint8_t> make_frame(std::span<const uint8_t> payload);

// Reads the little-endian length at the start of a frame header.
inline uint32_t read_frame_length(const uint8_t* header) {
  return static_cast<uint32_t>(header[0]) | (static_cast<uint32_t>(header[1]) << 8) |
         (static_cast<uint32_t>(header[2]) << 16) | (static_cast<uint32_t>(header[3]) << 24);
}

inline constexpr size_t kOversizedPrefix = 256;

enum class OversizedFrames { kFail, kSkip };

class FrameDecoder {
 public:
  enum class Status { kOk, kFrameTooLarge };

  explicit FrameDecoder(size_t max_frame_size = kDefaultMaxFrameSize,
                        OversizedFrames oversized = OversizedFrames::kFail);

  // Feeds bytes; calls on_frame(std::span<const uint8_t> payload) for every complete frame, in
  // order. The span is valid only during the call. Returns kFrameTooLarge (and stops) when a
  // header declares more than the maximum; the decoder is then unusable (the stream has lost
  // its framing) and the connection must be closed. In kSkip mode an oversized frame is skipped
  // instead and on_oversized(uint64_t length, std::span<const uint8_t> prefix) is called, in
  // stream order, once its last byte has passed.
  template <class OnFrame>
  Status feed(std::span<const uint8_t> data, OnFrame&& on_frame) {
    return feed(data, on_frame, [](uint64_t, std::span<const uint8_t>) {});
  }
  template <class OnFrame, class OnOversized>
  Status feed(std::span<const uint8_t> data, OnFrame&& on_frame, OnOversized&& on_oversized);

  size_t max_frame_size() const { return max_frame_size_; }
  // The length declared by the header that failed, for the error message.
  uint64_t rejected_length() const { return rejected_length_; }
  // Bytes of an incomplete frame held between reads.
  size_t buffered() const { return buffered_; }

 private:
  // Hands out a payload that is 8-byte aligned, copying it into scratch_ when it is not.
  template <class OnFrame>
  void deliver(const uint8_t* payload, size_t size, OnFrame& on_frame);
  uint8_t* scratch(size_t size);

  // kSkip: starts skipping a frame of `length` bytes (its header consumed).
  void start_skip(uint32_t length) { rejected_length_ = length, skip_left_ = length, prefix_size_ = 0; }
  // Consumes up to `left` bytes of the skipped frame; true once all of it has passed.
  bool skip(const uint8_t*& p, size_t& left) {
    const size_t take = std::min<uint64_t>(left, skip_left_);
    const size_t keep = std::min(take, kOversizedPrefix - prefix_size_);
    std::memcpy(prefix_ + prefix_size_, p, keep);
    prefix_size_ += keep, skip_left_ -= take, p += take, left -= take;
    return skip_left_ == 0;
  }

  size_t max_frame_size_;
  OversizedFrames oversized_;
  uint64_t skip_left_ = 0;  // bytes of an oversized frame still to skip
  uint8_t prefix_[kOversizedPrefix];
  size_t prefix_size_ = 0;
  uint64_t rejected_length_ = 0;
  bool failed_ = false;
  // Partial frame (header and body) accumulated across reads. Storage is uint64_t so that the
  // payload, which starts at offset 8 (header is stored at offset 4), stays aligned.
  std::vector<uint64_t> partial_;
  size_t buffered_ = 0;  // bytes of the partial frame present, header included
  std::vector<uint64_t> scratch_;
};

template <class OnFrame>
void FrameDecoder::deliver(const uint8_t* payload, size_t size, OnFrame& on_frame) {
  if (size == 0) {
    on_frame(std::span<const uint8_t>());
    return;
  }
  if (reinterpret_cast<uintptr_t>(payload) % alignof(uint64_t) == 0) {
    on_frame(std::span<const uint8_t>(payload, size));
    return;
  }
  uint8_t* aligned = scratch(size);
  std::memcpy(aligned, payload, size);
  on_frame(std::span<const uint8_t>(aligned, size));
}

template <class OnFrame, class OnOversized>
FrameDecoder::Status FrameDecoder::feed(std::span<const uint8_t> data, OnFrame&& on_frame,
                                        OnOversized&& on_oversized) {
  if (failed_) return Status::kFrameTooLarge;
  const uint8_t* p = data.data();
  size_t left = data.size();

  // The partial area keeps the 4-byte header at byte offset 4 so the payload lands at offset 8.
  auto partial_bytes = [this] { return reinterpret_cast<uint8_t*>(partial_.data()) + 4; };
  const auto skip_done = [&] { on_oversized(rejected_length_, std::span<const uint8_t>(prefix_, prefix_size_)); };

  if (skip_left_ > 0) {
    if (!skip(p, left)) return Status::kOk;
    skip_done();
  }

  if (buffered_ > 0) {
    // Complete the header first.
    if (buffered_ < kFrameHeaderSize) {
      size_t take = std::min(left, kFrameHeaderSize - buffered_);
      std::memcpy(partial_bytes() + buffered_, p, take);
      buffered_ += take, p += take, left -= take;
      if (buffered_ < kFrameHeaderSize) return Status::kOk;
      uint32_t length = read_frame_length(partial_bytes());
      if (length > max_frame_size_ && oversized_ == OversizedFrames::kSkip) {
        buffered_ = 0;
        start_skip(length);
        if (!skip(p, left)) return Status::kOk;
        skip_done();
      } else if (length > max_frame_size_) {
        rejected_length_ = length, failed_ = true, buffered_ = 0;
        return Status::kFrameTooLarge;
      } else {
        partial_.resize((8 + length + 7) / 8);
      }
    }
  }
  if (buffered_ > 0) {
    uint32_t length = read_frame_length(partial_bytes());
    size_t want = kFrameHeaderSize + length - buffered_;
    size_t take = std::min(left, want);
    std::memcpy(partial_bytes() + buffered_, p, take);
    buffered_ += take, p += take, left -= take;
    if (take < want) return Status::kOk;
    buffered_ = 0;
    on_frame(std::span<const uint8_t>(partial_bytes() + kFrameHeaderSize, length));
  }

  while (left >= kFrameHeaderSize) {
    uint32_t length = read_frame_length(p);
    if (length > max_frame_size_ && oversized_ == OversizedFrames::kSkip) {
      p += kFrameHeaderSize, left -= kFrameHeaderSize;
      start_skip(length);
      if (!skip(p, left)) return Status::kOk;
      skip_done();
      continue;
    }
    if (length > max_frame_size_) {
      rejected_length_ = length, failed_ = true;
      return Status::kFrameTooLarge;
    }
    if (left - kFrameHeaderSize < length) break;
    deliver(p + kFrameHeaderSize, length, on_frame);
    p += kFrameHeaderSize + length, left -= kFrameHeaderSize + length;
  }

  if (left > 0) {
    // Keep the tail. Size the partial area for the whole frame once the header is known.
    size_t need = 8 + (left >= kFrameHeaderSize ? kFrameHeaderSize + read_frame_length(p) : kFrameHeaderSize);
    if (partial_.size() * 8 < need) partial_.resize((need + 7) / 8);
    std::memcpy(partial_bytes(), p, left);
    buffered_ = left;
  }
  return Status::kOk;
}

}  // namespace ix::wire
