#include "proxy/route/agent_fan_out.h"

#include "proxy/route/answer_severity.h"

namespace ix::proxy {

FanOutOutcome decide_fan_out(const RoutingTable& table, const std::vector<PairAnswer>& answers) {
  FanOutOutcome out;
  for (const PairAnswer& a : answers) (a.kind == PairAnswer::Kind::kReply ? out.accepted : out.failed).push_back(a.pair);
  if (const PairAnswer* failure = deciding_failure(answers)) {
    const std::string pair = "node pair " + table.pair_id(failure->pair);
    out.status = Error{failure->error.code, failure->kind == PairAnswer::Kind::kRefused ? pair + " refused: " + failure->error.text
                                                                                        : pair + ": " + failure->error.text};
  }
  return out;
}

MediaScope media_scope(const config::NodePair& pair, const proto::EnvelopeT& request) {
  using Kind = MediaScope::Kind;
  auto one = [&](const std::string& media) { return MediaScope{media.empty() || pair.serves_media(media) ? Kind::kUnchanged : Kind::kSkip, {}}; };
  switch (request.body.type) {
    case proto::Message::RequestAgentLogin: {
      MediaScope scope{Kind::kNarrowed, {}};
      const auto& media = request.body.AsRequestAgentLogin()->media;
      for (const auto& m : media) {
        if (pair.serves_media(m->media_type)) scope.login_media.push_back(m->media_type);
      }
      if (scope.login_media.empty()) scope.kind = Kind::kSkip;
      else if (scope.login_media.size() == media.size()) scope.kind = Kind::kUnchanged;
      return scope;
    }
    case proto::Message::RequestAgentReady: return one(request.body.AsRequestAgentReady()->media_type);
    case proto::Message::RequestAgentNotReady: return one(request.body.AsRequestAgentNotReady()->media_type);
    case proto::Message::RequestAgentAddMedia: {
      const auto& media = request.body.AsRequestAgentAddMedia()->media;
      return one(media ? media->media_type : "");
    }
    case proto::Message::RequestAgentRemoveMedia: return one(request.body.AsRequestAgentRemoveMedia()->media_type);
    default: return {};
  }
}

}  // namespace ix::proxy
