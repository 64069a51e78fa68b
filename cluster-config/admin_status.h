// The cluster as its admin ports describe it: every node's /status (role, queue depths,
// interactions, agents) and every proxy's readiness, asked over HTTP. Used by `ixctl status`
// and by the proxy's status page. Blocking (one GET per process, each bounded by timeout_ms):
// call it from a tool or a watcher thread, never from an event loop.
#pragma once

#include <nlohmann/json.hpp>

#include "cluster-config/model.h"

namespace ix::config {

// {"cluster": name,
//  "pairs": [{"id", "serving": "primary" | "backup" | "", "nodes": [{"configured_as", "address",
//             "admin", "state": "primary" | "backup" | "down", "error"?, "queues"?, …}]}],
//  "proxies": [{"id", "address", "admin", "state": "ready" | "not ready" | "down", "reason"?,
//               "sessions"?}]}
nlohmann::json admin_status(const ClusterConfig& config, uint64_t timeout_ms = 2000);

}  // namespace ix::config
