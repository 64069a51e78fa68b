// PairAnswer: what one node pair said to one request the proxy sent it, in the form the routing
// policies decide on. The one place that classifies upstream results (the way mcrouter's
// McResUtil does): a reply, a refusal by the node (its own error), or no answer at all because
// the pair could not be asked or the connection dropped or the deadline passed (cluster 2002).
#pragma once

#include <memory>
#include <vector>

#include "protocol/result.h"
#include "protocol/wire/messages.h"
#include "protocol/wire/ixcluster_generated.h"
#include "proxy/route/routing_table.h"

namespace ix::proxy {

struct PairAnswer {
  enum class Kind { kReply, kRefused, kUnreachable };

  PairIndex pair = 0;
  Kind kind = Kind::kUnreachable;
  Error error;  // kRefused: the node's error; kUnreachable: why (code 2002)
  std::shared_ptr<const std::vector<uint8_t>> payload;  // kReply: the verified envelope

  const proto::Envelope* envelope() const { return payload ? proto::GetEnvelope(payload->data()) : nullptr; }
  bool refused_with(proto::ErrorCode code) const { return kind == Kind::kRefused && error.code == static_cast<int>(code); }

  static PairAnswer reply(PairIndex pair, std::shared_ptr<const std::vector<uint8_t>> payload) {
    return {pair, Kind::kReply, {}, std::move(payload)};
  }
  static PairAnswer refused(PairIndex pair, Error error) { return {pair, Kind::kRefused, std::move(error), nullptr}; }
  static PairAnswer unreachable(PairIndex pair, std::string why) {
    return {pair, Kind::kUnreachable, wire::make_error(proto::ErrorCode::ClusterLostConnection, std::move(why)), nullptr};
  }
};

}  // namespace ix::proxy
