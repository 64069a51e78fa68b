#include "proxy/route/agent_fan_out.h"

namespace ix::proxy {

FanOutOutcome decide_fan_out(const RoutingTable& table, const std::vector<PairAnswer>& answers) {
  FanOutOutcome out;
  const PairAnswer* refusal = nullptr;
  const PairAnswer* lost = nullptr;
  for (const PairAnswer& a : answers) {
    switch (a.kind) {
      case PairAnswer::Kind::kReply:
        out.accepted.push_back(a.pair);
        break;
      case PairAnswer::Kind::kRefused:
        if (!refusal) refusal = &a;
        out.failed.push_back(a.pair);
        break;
      case PairAnswer::Kind::kUnreachable:
        if (!lost) lost = &a;
        out.failed.push_back(a.pair);
        break;
    }
  }
  if (refusal) {
    out.status = Error{refusal->error.code, "node pair " + table.pair_id(refusal->pair) + " refused: " + refusal->error.text};
  } else if (lost) {
    out.status = Error{lost->error.code, "node pair " + table.pair_id(lost->pair) + ": " + lost->error.text};
  }
  return out;
}

}  // namespace ix::proxy
