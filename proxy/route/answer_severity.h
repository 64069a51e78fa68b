// The one severity order of upstream failures. When a request went to several pairs (agent
// fan-outs, find and workbin merges, snapshot takes, pages and releases, pulls, reporting
// subscriptions) and more than one failed, the failure that answers the client is the most
// severe one by this order — never the first to arrive — so the same set of failures always gives
// the same code and text, whatever order the answers came in. Pure functions; any thread.
//
// Severity, most severe first:
//   1. the request itself is wrong (protocol 1xx, attribute and condition 2xx): every pair would
//      say so, and retrying cannot help;
//   2. the state refuses it (3xx: unknown agent or interaction, locked, wrong state, no seats, …);
//   3. the node could not serve it (NotPrimary, Internal, any code this build does not know);
//   4. a cluster code a pair's path produced (2000–2006), except
//   5. no answer at all (2002: could not be asked, connection lost, deadline passed).
// Ties go to the smaller code, then the pair first in the configuration, then the text.
#pragma once

#include <optional>
#include <tuple>
#include <vector>

#include "protocol/result.h"
#include "protocol/wire/ixcluster_generated.h"
#include "proxy/route/pair_answer.h"

namespace ix::proxy {

inline int severity_rank(const Error& error) {
  using E = proto::ErrorCode;
  const int code = error.code;
  if (code == static_cast<int>(E::ClusterLostConnection)) return 5;
  if (code >= 2000 && code < 3000) return 4;
  if (code == static_cast<int>(E::NotPrimary)) return 3;
  if (code >= 100 && code < 300) return 1;
  if (code >= 300 && code < 400) return 2;
  return 3;
}

// True when `a` (from pair `pa`) decides over `b` (from pair `pb`).
inline bool more_severe(const Error& a, PairIndex pa, const Error& b, PairIndex pb) {
  return std::tuple(severity_rank(a), a.code, pa, a.text) < std::tuple(severity_rank(b), b.code, pb, b.text);
}
// For failures that already name their pair in the text.
inline bool more_severe(const Error& a, const Error& b) { return more_severe(a, 0, b, 0); }

// The failure that decides among `answers`: the most severe answer that is not a reply, or null
// when every pair replied.
inline const PairAnswer* deciding_failure(const std::vector<PairAnswer>& answers) {
  const PairAnswer* worst = nullptr;
  for (const PairAnswer& a : answers) {
    if (a.kind == PairAnswer::Kind::kReply) continue;
    if (!worst || more_severe(a.error, a.pair, worst->error, worst->pair)) worst = &a;
  }
  return worst;
}

// Keeps the more severe of `kept` and `error` (failures that arrive one at a time).
inline void keep_most_severe(std::optional<Error>& kept, Error error) {
  if (!kept || more_severe(error, *kept)) kept = std::move(error);
}

}  // namespace ix::proxy
