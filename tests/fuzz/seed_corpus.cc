// Writes the seed corpus for the fuzz targets: real frames of many message types, split and
// packed streams, and a few broken inputs. Run it to regenerate tests/fuzz/corpus/:
//   build/tests/fuzz/ix_seed_corpus tests/fuzz/corpus
#include <filesystem>
#include <fstream>
#include <cstring>
#include <iostream>

#include "protocol/wire/kv.h"
#include "protocol/wire/messages.h"

namespace {

using namespace ix;

void write(const std::filesystem::path& dir, const std::string& name, const std::vector<uint8_t>& bytes) {
  std::filesystem::create_directories(dir);
  std::ofstream(dir / name, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                                   static_cast<std::streamsize>(bytes.size()));
}

std::vector<wire::Frame> sample_frames() {
  std::vector<wire::Frame> frames;
  frames.push_back(wire::encode_register_client(1, proto::ClientType::AgentApplication, "desktop", {"101"}));
  frames.push_back(wire::encode_ping(2));
  frames.push_back(wire::encode_ack(3, 9));
  frames.push_back(wire::encode_error(4, 0, proto::ErrorCode::ClusterLostConnection, "lost pair-2"));
  proto::RequestSubmitT submit;
  submit.tenant_id = "101";
  submit.media_type = "chat";
  submit.queue = "inbound";
  submit.priority = 3;
  submit.user_data = wire::kv_list({{"Subject", "order 55"}, {"Score", 9}, {"Raw", std::vector<uint8_t>{1, 2}}});
  wire::kv_set_list(*submit.user_data, "Nested", wire::kv_list({{"k", "v"}}));
  frames.push_back(wire::encode_frame(5, 0, std::move(submit)));
  proto::EventPulledT pulled;
  for (int i = 0; i < 5; ++i) {
    auto info = std::make_unique<proto::InteractionInfoT>();
    info->interaction_id = "0001-" + std::to_string(i);
    info->state = proto::InteractionState::Queued;
    info->user_data = wire::kv_list({{"n", i}});
    pulled.interactions.push_back(std::move(info));
  }
  frames.push_back(wire::encode_frame(6, 0, std::move(pulled)));
  proto::EventAgentLoginT login;
  login.header = std::make_unique<proto::ReportingHeaderT>();
  login.header->node_id = "pair-1";
  login.header->seq = 77;
  login.agent_id = "agent-7";
  auto media = std::make_unique<proto::MediaCapacityT>();
  media->media_type = "email";
  media->capacity = 3;
  login.media.push_back(std::move(media));
  frames.push_back(wire::encode_frame(0, 0, std::move(login)));
  proto::RequestStartReportingT reporting;
  auto resume = std::make_unique<proto::ResumePositionT>();
  resume->node_id = "pair-1";
  resume->seq = 1000;
  reporting.resume.push_back(std::move(resume));
  frames.push_back(wire::encode_frame(8, 0, std::move(reporting)));
  return frames;
}

// What a node sends the proxy: replies at the depth limit, a truncated reply, one too large to
// read, and all of them in one stream (reply_path target: a chunk-size byte, then frames).
void write_reply_path(const std::filesystem::path& out, const std::vector<wire::Frame>& frames) {
  std::vector<wire::Frame> replies = frames;
  auto nested = [](int levels) {
    auto list = wire::kv_list({{"leaf", 1}});
    for (int i = 1; i < levels; ++i) {
      auto outer = std::make_unique<proto::KvListT>();
      wire::kv_set_list(*outer, "n", std::move(list));
      list = std::move(outer);
    }
    return list;
  };
  for (int levels : {31, 32}) {
    proto::EventPropertiesT properties;
    properties.interaction = std::make_unique<proto::InteractionInfoT>();
    properties.interaction->interaction_id = "p1-0000000000000001";
    properties.interaction->user_data = nested(levels);
    replies.push_back(wire::encode_frame(40 + levels, 3, properties));
  }
  wire::Frame truncated = replies.back();
  truncated.resize(truncated.size() - 16);
  const auto length = static_cast<uint32_t>(truncated.size() - wire::kFrameHeaderSize);
  std::memcpy(truncated.data(), &length, 4);
  replies.push_back(truncated);
  proto::EventPropertiesT big;
  big.interaction = std::make_unique<proto::InteractionInfoT>();
  big.interaction->interaction_id = "p1-0000000000000002";
  big.interaction->user_data = wire::kv_list({{"blob", std::vector<uint8_t>(5000, 'x')}});
  replies.push_back(wire::encode_frame(90, 0, big));
  replies.push_back(wire::readdress_envelope(std::span<const uint8_t>(replies[2]).subspan(wire::kFrameHeaderSize), 91, 4));
  std::vector<uint8_t> all{5};
  for (size_t i = 0; i < replies.size(); ++i) {
    std::vector<uint8_t> stream{static_cast<uint8_t>(i * 5)};
    stream.insert(stream.end(), replies[i].begin(), replies[i].end());
    write(out / "reply_path", "reply-" + std::to_string(i), stream);
    all.insert(all.end(), replies[i].begin(), replies[i].end());
  }
  write(out / "reply_path", "all-replies", all);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: ix_seed_corpus OUTPUT_DIR\n";
    return 2;
  }
  std::filesystem::path out(argv[1]);
  std::vector<wire::Frame> frames = sample_frames();
  std::vector<uint8_t> all;
  for (size_t i = 0; i < frames.size(); ++i) {
    // Verifier target: bare payloads. Decoder target: a chunk-size byte, then frames.
    write(out / "envelope_verifier", "frame-" + std::to_string(i),
          std::vector<uint8_t>(frames[i].begin() + wire::kFrameHeaderSize, frames[i].end()));
    std::vector<uint8_t> stream{static_cast<uint8_t>(i * 7)};
    stream.insert(stream.end(), frames[i].begin(), frames[i].end());
    write(out / "frame_decoder", "frame-" + std::to_string(i), stream);
    all.insert(all.end(), frames[i].begin(), frames[i].end());
  }
  std::vector<uint8_t> packed{3};
  packed.insert(packed.end(), all.begin(), all.end());
  write(out / "frame_decoder", "many-frames", packed);
  write(out / "frame_decoder", "oversized", {1, 0xFF, 0xFF, 0xFF, 0x7F, 1, 2, 3});
  write(out / "frame_decoder", "truncated", std::vector<uint8_t>(packed.begin(), packed.begin() + 40));
  write(out / "envelope_verifier", "garbage", std::vector<uint8_t>(64, 0xEE));
  write(out / "envelope_verifier", "empty", {});
  write_reply_path(out, frames);
  std::cout << "wrote the seed corpus to " << out << "\n";
  return 0;
}
