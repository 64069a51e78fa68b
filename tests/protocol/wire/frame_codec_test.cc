#include "protocol/wire/frame_codec.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace ix::wire {
namespace {

std::vector<uint8_t> bytes(const std::string& s) { return {s.begin(), s.end()}; }

struct Collected {
  std::vector<std::string> frames;
  bool all_aligned = true;
};

FrameDecoder::Status feed(FrameDecoder& decoder, std::span<const uint8_t> data, Collected& out) {
  return decoder.feed(data, [&](std::span<const uint8_t> payload) {
    if (reinterpret_cast<uintptr_t>(payload.data()) % 8 != 0) out.all_aligned = false;
    out.frames.emplace_back(payload.begin(), payload.end());
  });
}

TEST(FrameCodec, HeaderIsLittleEndianLength) {
  std::vector<uint8_t> payload(0x010203, 0xAB);
  std::vector<uint8_t> frame = make_frame(payload);
  ASSERT_EQ(frame.size(), 4u + payload.size());
  EXPECT_EQ(frame[0], 0x03);
  EXPECT_EQ(frame[1], 0x02);
  EXPECT_EQ(frame[2], 0x01);
  EXPECT_EQ(frame[3], 0x00);
  EXPECT_EQ(read_frame_length(frame.data()), payload.size());
}

TEST(FrameCodec, FrameSplitAtEveryBytePosition) {
  std::vector<uint8_t> stream;
  append_frame(stream, bytes("first frame payload"));
  append_frame(stream, bytes(""));
  append_frame(stream, bytes("third, somewhat longer, frame payload with more bytes"));
  for (size_t split = 0; split <= stream.size(); ++split) {
    FrameDecoder decoder;
    Collected out;
    ASSERT_EQ(feed(decoder, std::span(stream).first(split), out), FrameDecoder::Status::kOk);
    ASSERT_EQ(feed(decoder, std::span(stream).subspan(split), out), FrameDecoder::Status::kOk);
    ASSERT_EQ(out.frames.size(), 3u) << "split at " << split;
    EXPECT_EQ(out.frames[0], "first frame payload");
    EXPECT_EQ(out.frames[1], "");
    EXPECT_EQ(out.frames[2], "third, somewhat longer, frame payload with more bytes");
    EXPECT_TRUE(out.all_aligned);
    EXPECT_EQ(decoder.buffered(), 0u);
  }
}

TEST(FrameCodec, OneByteAtATime) {
  std::vector<uint8_t> stream;
  for (int i = 0; i < 20; ++i) append_frame(stream, bytes("frame " + std::to_string(i)));
  FrameDecoder decoder;
  Collected out;
  for (uint8_t b : stream) ASSERT_EQ(feed(decoder, std::span(&b, 1), out), FrameDecoder::Status::kOk);
  ASSERT_EQ(out.frames.size(), 20u);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(out.frames[static_cast<size_t>(i)], "frame " + std::to_string(i));
  EXPECT_TRUE(out.all_aligned);
}

TEST(FrameCodec, ThousandFramesInOneBuffer) {
  std::vector<uint8_t> stream;
  for (int i = 0; i < 1000; ++i) append_frame(stream, bytes("payload-" + std::to_string(i)));
  FrameDecoder decoder;
  Collected out;
  ASSERT_EQ(feed(decoder, stream, out), FrameDecoder::Status::kOk);
  ASSERT_EQ(out.frames.size(), 1000u);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(out.frames[static_cast<size_t>(i)], "payload-" + std::to_string(i));
  EXPECT_TRUE(out.all_aligned) << "payloads must be handed out 8-byte aligned";
}

TEST(FrameCodec, RandomChunkingDeliversTheSameFrames) {
  std::mt19937 rng(42);
  std::vector<std::string> sent;
  std::vector<uint8_t> stream;
  for (int i = 0; i < 500; ++i) {
    std::string p(rng() % 3000, static_cast<char>('a' + i % 26));
    sent.push_back(p);
    append_frame(stream, bytes(p));
  }
  FrameDecoder decoder;
  Collected out;
  size_t at = 0;
  while (at < stream.size()) {
    size_t n = std::min<size_t>(stream.size() - at, 1 + rng() % 9000);
    ASSERT_EQ(feed(decoder, std::span(stream).subspan(at, n), out), FrameDecoder::Status::kOk);
    at += n;
  }
  EXPECT_EQ(out.frames, sent);
  EXPECT_TRUE(out.all_aligned);
}

TEST(FrameCodec, OversizedFrameIsRefusedBeforeItsBody) {
  FrameDecoder decoder(1024);
  Collected out;
  std::vector<uint8_t> stream;
  append_frame(stream, bytes("ok"));
  const uint8_t header[4] = {0x01, 0x04, 0x00, 0x00};  // 1025 bytes declared
  stream.insert(stream.end(), header, header + 4);
  ASSERT_EQ(feed(decoder, stream, out), FrameDecoder::Status::kFrameTooLarge);
  EXPECT_EQ(out.frames.size(), 1u) << "frames before the bad header are still delivered";
  EXPECT_EQ(decoder.rejected_length(), 1025u);
  // The stream has lost its framing: the decoder stays failed.
  std::vector<uint8_t> more = make_frame(bytes("later"));
  EXPECT_EQ(feed(decoder, more, out), FrameDecoder::Status::kFrameTooLarge);
  EXPECT_EQ(out.frames.size(), 1u);
}

TEST(FrameCodec, OversizedHeaderSplitAcrossReads) {
  FrameDecoder decoder(100);
  Collected out;
  const uint8_t header[4] = {0xFF, 0xFF, 0xFF, 0xFF};
  ASSERT_EQ(feed(decoder, std::span(header, 2), out), FrameDecoder::Status::kOk);
  ASSERT_EQ(feed(decoder, std::span(header + 2, 2), out), FrameDecoder::Status::kFrameTooLarge);
  EXPECT_EQ(decoder.rejected_length(), 0xFFFFFFFFu);
}

TEST(FrameCodec, FrameOfExactlyTheMaximumIsAccepted) {
  FrameDecoder decoder(4096);
  Collected out;
  std::vector<uint8_t> stream = make_frame(std::vector<uint8_t>(4096, 7));
  ASSERT_EQ(feed(decoder, stream, out), FrameDecoder::Status::kOk);
  ASSERT_EQ(out.frames.size(), 1u);
  EXPECT_EQ(out.frames[0].size(), 4096u);
}

TEST(FrameCodec, TruncatedStreamHoldsThePartialFrame) {
  FrameDecoder decoder;
  Collected out;
  std::vector<uint8_t> stream = make_frame(bytes("incomplete"));
  ASSERT_EQ(feed(decoder, std::span(stream).first(stream.size() - 1), out), FrameDecoder::Status::kOk);
  EXPECT_TRUE(out.frames.empty());
  EXPECT_EQ(decoder.buffered(), stream.size() - 1);
}

// The proxy's side of a link to a node: a frame over the maximum is skipped, byte by byte or in
// one read, its first bytes are handed out once it has passed, and the frames around it arrive.
TEST(FrameCodec, SkipModePassesOverAnOversizedFrameAndKeepsTheFraming) {
  std::vector<uint8_t> big(5000);
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<uint8_t>(i);
  std::vector<uint8_t> stream = make_frame(bytes("before"));
  append_frame(stream, big);
  append_frame(stream, bytes("after"));
  for (size_t chunk : {size_t{1}, size_t{3}, size_t{7}, size_t{100}, stream.size()}) {
    FrameDecoder decoder(64, OversizedFrames::kSkip);
    Collected out;
    std::vector<std::pair<uint64_t, std::vector<uint8_t>>> skipped;
    for (size_t at = 0; at < stream.size(); at += chunk) {
      const size_t n = std::min(chunk, stream.size() - at);
      auto status = decoder.feed(
          std::span<const uint8_t>(stream).subspan(at, n),
          [&](std::span<const uint8_t> payload) {
            out.frames.emplace_back(payload.begin(), payload.end());
            if (!skipped.empty()) {
              EXPECT_EQ(out.frames.size(), 2u) << "in stream order";
            }
          },
          [&](uint64_t length, std::span<const uint8_t> prefix) { skipped.emplace_back(length, std::vector<uint8_t>(prefix.begin(), prefix.end())); });
      ASSERT_EQ(status, FrameDecoder::Status::kOk) << "chunk " << chunk;
    }
    EXPECT_EQ(out.frames, (std::vector<std::string>{"before", "after"})) << "chunk " << chunk;
    ASSERT_EQ(skipped.size(), 1u) << "chunk " << chunk;
    EXPECT_EQ(skipped[0].first, big.size());
    EXPECT_EQ(skipped[0].second, std::vector<uint8_t>(big.begin(), big.begin() + kOversizedPrefix));
    EXPECT_EQ(decoder.buffered(), 0u);
  }
}

}  // namespace
}  // namespace ix::wire
