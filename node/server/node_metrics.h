// NodeMetrics: the node's labelled counters, each metric's name and help text written once
// here. Every label value known in advance (each request type, error code, revocation reason)
// is declared at construction, so the series exist at 0 from start-up and rate()/increase() see
// the first increment. A labelled counter is looked up in the registry the first time a label
// value is used and cached after, so requests do no registry lookup and the registry's help-text
// check (which throws) can never fire on the data path. Loop thread only.
//
// ix_node_requests_total{request,result} is counted when a request is answered (NodeServer
// matches the first frame sent back with the request's ref_id and client_id): result "ok", or
// the class of the error code it was refused with ("1xx", "2xx", "3xx", "5xx").
#pragma once

#include <array>
#include <map>
#include <string_view>
#include <utility>
#include <string>
#include <vector>

#include "node/server/proxy_auth.h"
#include "protocol/http/metrics.h"
#include "protocol/wire/messages.h"

namespace ix::node {

class NodeMetrics {
 public:
  explicit NodeMetrics(metrics::Registry& registry) : registry_(registry) {
    std::vector<std::string> requests, codes, framing_codes;
    for (proto::Message type : proto::EnumValuesMessage()) {
      if (wire::is_request(type)) requests.push_back(wire::message_name(type));
    }
    for (proto::ErrorCode code : proto::EnumValuesErrorCode()) {
      const int n = static_cast<int>(code);
      if (n == 0 || n >= 2000) continue;  // the 2xxx codes are the proxy's
      codes.push_back(std::to_string(n));
      if (n < 200) framing_codes.push_back(std::to_string(n));
    }
    registry_.declare_counters(kRequests, kRequestsHelp, {{"request", requests}, {"result", {kResults.begin(), kResults.end()}}});
    registry_.declare_counters(kRequestErrors, kRequestErrorsHelp, {{"code", codes}});
    registry_.declare_counters(kProtocolErrors, kProtocolErrorsHelp, {{"code", framing_codes}});
    registry_.declare_counters(kRevocations, kRevocationsHelp, {{"reason", {"delivering-timeout", "handling-timeout"}}});
    std::vector<std::string> refusals;
    for (ProxyRefusal reason : kProxyRefusals) refusals.emplace_back(proxy_refusal_name(reason));
    registry_.declare_counters(kProxyRefused, kProxyRefusedHelp, {{"reason", refusals}});
    registry_.declare_counters(kProxySessions, kProxySessionsHelp, {{"outcome", {"held", "reattached", "expired"}}});
    commits_failed();
  }

  // The result label of an answer: "ok" for anything but an EventError, else its code's class.
  static const char* result_of(proto::ErrorCode code) {
    const int n = static_cast<int>(code);
    if (n == 0) return kResults[0];
    if (n < 200) return kResults[1];
    if (n < 300) return kResults[2];
    if (n < 400) return kResults[3];
    return kResults[4];
  }
  // result: one of result_of()'s answers.
  metrics::Counter& requests(proto::Message type, const char* result) {
    const auto key = std::make_pair(type, std::string_view(result));
    auto it = requests_.find(key);
    if (it == requests_.end()) {
      it = requests_.emplace(key, &registry_.counter(kRequests, kRequestsHelp, {{"request", wire::message_name(type)}, {"result", result}})).first;
    }
    return *it->second;
  }
  metrics::Counter& request_errors(proto::ErrorCode code) {
    return cached(request_errors_, code, kRequestErrors, kRequestErrorsHelp, "code", std::to_string(static_cast<int>(code)));
  }
  metrics::Counter& protocol_errors(proto::ErrorCode code) {
    return cached(protocol_errors_, code, kProtocolErrors, kProtocolErrorsHelp, "code", std::to_string(static_cast<int>(code)));
  }
  metrics::Counter& commits_failed() {
    if (commits_failed_ == nullptr) {
      commits_failed_ = &registry_.counter("ix_node_commits_failed_total", "Store commits that failed (the node then stops)");
    }
    return *commits_failed_;
  }
  metrics::Registry& registry() { return registry_; }
  // reason: delivering-timeout or handling-timeout.
  metrics::Counter& revocations(const std::string& reason) {
    return cached(revocations_, reason, kRevocations, kRevocationsHelp, "reason", reason);
  }
  metrics::Counter& proxy_refusals(ProxyRefusal reason) {
    return cached(proxy_refusals_, reason, kProxyRefused, kProxyRefusedHelp, "reason", proxy_refusal_name(reason));
  }
  // outcome: "held" (a proxy's session closed; its agents, locks and snapshots are kept),
  // "reattached" (the same proxy worker took them over), "expired" (nobody did within
  // proxy-session-grace, or the proxy restarted: they were logged out and released).
  metrics::Counter& proxy_sessions(const std::string& outcome) {
    return cached(proxy_sessions_, outcome, kProxySessions, kProxySessionsHelp, "outcome", outcome);
  }

 private:
  static constexpr const char* kRequests = "ix_node_requests_total";
  static constexpr std::array<const char*, 5> kResults = {"ok", "1xx", "2xx", "3xx", "5xx"};
  static constexpr const char* kRequestsHelp =
      "Requests answered, by type and result (ok, or the error code's class; the codes are in ix_node_request_errors_total)";
  static constexpr const char* kRequestErrors = "ix_node_request_errors_total";
  static constexpr const char* kRequestErrorsHelp = "Requests answered with EventError, by code";
  static constexpr const char* kProtocolErrors = "ix_node_protocol_errors_total";
  static constexpr const char* kProtocolErrorsHelp = "Frames refused before dispatch, by code";
  static constexpr const char* kRevocations = "ix_node_revocations_total";
  static constexpr const char* kRevocationsHelp = "Interactions taken back from agents by a timeout, by reason";
  static constexpr const char* kProxyRefused = "ix_node_proxy_registrations_refused_total";
  static constexpr const char* kProxyRefusedHelp =
      "Registrations as a proxy refused because the peer is not an authenticated proxy, by reason";

  static constexpr const char* kProxySessions = "ix_node_proxy_sessions_total";
  static constexpr const char* kProxySessionsHelp =
      "Closed proxy sessions whose agents, locks and snapshots were held for proxy-session-grace, and how holds ended "
      "(reattached by the same proxy worker, or expired)";

  template <class Key>
  metrics::Counter& cached(std::map<Key, metrics::Counter*>& cache, const Key& key, const char* name, const char* help,
                           const char* label, const std::string& value) {
    auto it = cache.find(key);
    if (it == cache.end()) it = cache.emplace(key, &registry_.counter(name, help, {{label, value}})).first;
    return *it->second;
  }

  metrics::Registry& registry_;
  metrics::Counter* commits_failed_ = nullptr;
  std::map<std::pair<proto::Message, std::string_view>, metrics::Counter*> requests_;
  std::map<proto::ErrorCode, metrics::Counter*> request_errors_;
  std::map<proto::ErrorCode, metrics::Counter*> protocol_errors_;
  std::map<std::string, metrics::Counter*> revocations_;
  std::map<ProxyRefusal, metrics::Counter*> proxy_refusals_;
  std::map<std::string, metrics::Counter*> proxy_sessions_;
};

}  // namespace ix::node
