// The proxy secret of [proxy-auth]: read from its file or environment variable when a node or a
// proxy starts (the configuration names where it is, never the value). Called on the process's
// main thread before any loop runs; the value is then copied to whoever needs it.
#pragma once

#include <string>

#include "cluster-config/model.h"
#include "protocol/result.h"

namespace ix::config {

// Shorter secrets are refused: a proxy secret is a key, not a password a person types.
inline constexpr size_t kMinProxySecretLength = 16;

// The secret with surrounding white space removed (a trailing newline in the file is common).
// An unreadable file, an unset variable or a secret shorter than kMinProxySecretLength is an
// error that says which file or variable and what is wrong with it.
Result<std::string> load_proxy_secret(const ProxyAuth& auth);

// The secret when the configuration has [proxy-auth], an empty string when it has none.
Result<std::string> load_proxy_secret(const ClusterConfig& config);

}  // namespace ix::config
