#include "cluster-config/proxy_secret.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace ix::config {

namespace {

std::string trimmed(const std::string& text) {
  const char* space = " \t\r\n";
  const size_t first = text.find_first_not_of(space);
  if (first == std::string::npos) return {};
  return text.substr(first, text.find_last_not_of(space) - first + 1);
}

}  // namespace

Result<std::string> load_proxy_secret(const ProxyAuth& auth) {
  std::string secret, where;
  if (!auth.secret_file.empty()) {
    where = "[proxy-auth] secret-file \"" + auth.secret_file + "\"";
    std::ifstream in(auth.secret_file, std::ios::binary);
    if (!in) return Error{0, "cannot read " + where + ": " + std::strerror(errno)};
    std::ostringstream text;
    text << in.rdbuf();
    secret = trimmed(text.str());
  } else {
    where = "[proxy-auth] secret-env: the environment variable " + auth.secret_env;
    const char* value = std::getenv(auth.secret_env.c_str());
    if (value == nullptr) return Error{0, where + " is not set"};
    secret = trimmed(value);
  }
  if (secret.size() < kMinProxySecretLength) {
    return Error{0, where + " holds " + std::to_string(secret.size()) + " characters; the proxy secret needs at least " +
                        std::to_string(kMinProxySecretLength)};
  }
  return secret;
}

Result<std::string> load_proxy_secret(const ClusterConfig& config) {
  if (!config.proxy_auth) return std::string();
  return load_proxy_secret(*config.proxy_auth);
}

}  // namespace ix::config
