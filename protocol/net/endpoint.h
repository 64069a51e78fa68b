// Endpoint: a host and port as written in configuration, and its conversion to a socket address.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>

#include "protocol/result.h"

namespace ix::net {

struct Endpoint {
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0 = let the operating system choose (listeners only)

  std::string to_string() const;
};

// Parses "host:port" or "[v6]:port".
Result<Endpoint> parse_endpoint(const std::string& text);

// Converts a numeric IPv4 / IPv6 address (or "localhost") without blocking. Other host names
// need resolve_endpoint() on the loop's thread pool (see Connector).
Result<sockaddr_storage> numeric_address(const Endpoint& endpoint);

}  // namespace ix::net
