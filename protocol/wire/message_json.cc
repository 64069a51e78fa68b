#include "protocol/wire/message_json.h"

#include <flatbuffers/minireflect.h>

namespace ix::wire {

nlohmann::json message_json(std::span<const uint8_t> verified_payload) {
  // Quoted names, no indentation: the mini-reflection printer then writes strict JSON (strings
  // are escaped as \u sequences, enums and union types print as quoted names).
  flatbuffers::ToStringVisitor printer(" ", true, "", true);
  flatbuffers::IterateFlatBuffer(verified_payload.data(), proto::EnvelopeTypeTable(), &printer);
  nlohmann::json envelope = nlohmann::json::parse(printer.s, nullptr, /*allow_exceptions=*/false);
  if (envelope.is_discarded()) return {{"type", "unprintable"}};
  nlohmann::json out{{"type", envelope.value("body_type", "NONE")}};
  if (envelope.contains("ref_id")) out["ref_id"] = envelope["ref_id"];
  if (envelope.value("client_id", uint64_t{0}) != 0) out["client_id"] = envelope["client_id"];
  if (envelope.contains("body")) out.update(envelope["body"]);
  if (envelope.contains("extension")) out["extension"] = envelope["extension"];
  return out;
}

}  // namespace ix::wire
