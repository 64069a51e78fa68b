#include "protocol/net/endpoint.h"

#include <uv.h>

#include <charconv>

namespace ix::net {

std::string Endpoint::to_string() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

Result<Endpoint> parse_endpoint(const std::string& text) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon + 1 == text.size()) {
    return Error{0, "endpoint \"" + text + "\" must be host:port"};
  }
  std::string host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  unsigned port = 0;
  const char* first = text.data() + colon + 1;
  const char* last = text.data() + text.size();
  auto [end, ec] = std::from_chars(first, last, port);
  if (ec != std::errc() || end != last || port > 65535) {
    return Error{0, "endpoint \"" + text + "\" has an invalid port"};
  }
  if (host.empty()) return Error{0, "endpoint \"" + text + "\" has no host"};
  return Endpoint{host, static_cast<uint16_t>(port)};
}

Result<sockaddr_storage> numeric_address(const Endpoint& endpoint) {
  sockaddr_storage storage{};
  const std::string host = endpoint.host == "localhost" ? "127.0.0.1" : endpoint.host;
  if (uv_ip4_addr(host.c_str(), endpoint.port, reinterpret_cast<sockaddr_in*>(&storage)) == 0) {
    return storage;
  }
  if (uv_ip6_addr(host.c_str(), endpoint.port, reinterpret_cast<sockaddr_in6*>(&storage)) == 0) {
    return storage;
  }
  return Error{0, "\"" + endpoint.host + "\" is not a numeric IPv4 or IPv6 address"};
}

}  // namespace ix::net
