// NodeMetrics: the node's labelled counters, each metric's name and help text written once
// here. A labelled counter is looked up in the registry the first time a label value is used
// and cached after, so requests do no registry lookup and the registry's help-text check (which
// throws) can never fire on the data path. Loop thread only.
#pragma once

#include <map>
#include <string>

#include "protocol/http/metrics.h"
#include "protocol/wire/messages.h"

namespace ix::node {

class NodeMetrics {
 public:
  explicit NodeMetrics(metrics::Registry& registry) : registry_(registry) {}

  metrics::Counter& requests(proto::Message type) {
    return cached(requests_, type, "ix_node_requests_total", "Requests received, by type", "request",
                  wire::message_name(type));
  }
  metrics::Counter& request_errors(proto::ErrorCode code) {
    return cached(request_errors_, code, "ix_node_request_errors_total", "Requests answered with EventError", "code",
                  std::to_string(static_cast<int>(code)));
  }
  metrics::Counter& protocol_errors(proto::ErrorCode code) {
    return cached(protocol_errors_, code, "ix_node_protocol_errors_total", "Frames refused before dispatch", "code",
                  std::to_string(static_cast<int>(code)));
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
    return cached(revocations_, reason, "ix_node_revocations_total", "Interactions taken back from agents by a timeout",
                  "reason", reason);
  }

 private:
  template <class Key>
  metrics::Counter& cached(std::map<Key, metrics::Counter*>& cache, const Key& key, const char* name, const char* help,
                           const char* label, const std::string& value) {
    auto it = cache.find(key);
    if (it == cache.end()) it = cache.emplace(key, &registry_.counter(name, help, {{label, value}})).first;
    return *it->second;
  }

  metrics::Registry& registry_;
  metrics::Counter* commits_failed_ = nullptr;
  std::map<proto::Message, metrics::Counter*> requests_;
  std::map<proto::ErrorCode, metrics::Counter*> request_errors_;
  std::map<proto::ErrorCode, metrics::Counter*> protocol_errors_;
  std::map<std::string, metrics::Counter*> revocations_;
};

}  // namespace ix::node
