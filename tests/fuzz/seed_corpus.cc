// Writes the seed corpus for the fuzz targets: real frames of many message types, split and
// packed streams, and a few broken inputs. Run it to regenerate tests/fuzz/corpus/:
//   build/tests/fuzz/ix_seed_corpus tests/fuzz/corpus
#include <filesystem>
#include <fstream>
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
  std::cout << "wrote the seed corpus to " << out << "\n";
  return 0;
}
