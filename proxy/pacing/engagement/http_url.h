// HttpUrl: an http:// or https:// URL as the engagement client needs it — scheme, host, port and
// the request target — parsed from configuration text, and the joining of a base URL with the
// target endpoint. Pure functions; no thread concerns.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "protocol/result.h"

namespace ix::pacing {

struct HttpUrl {
  bool tls = true;           // https
  std::string host;          // without brackets for IPv6 literals
  uint16_t port = 443;
  std::string target = "/";  // path and query, as sent on the request line
  std::string text;          // the URL as written, for error messages

  // "host", "host:port" or "[v6]:port", as the Host header and CONNECT want it.
  std::string authority() const;
  // The host is a numeric IPv4 or IPv6 address (verified against the certificate's IP SANs, no SNI).
  bool host_is_ip() const;
};

// Parses "https://host[:port][/path]" or "http://...". No user info, no fragment.
Result<HttpUrl> parse_http_url(std::string_view text);

// base + endpoint with exactly one '/' between them ("https://h/api/" + "v2/x" -> "https://h/api/v2/x").
std::string join_url(std::string_view base, std::string_view endpoint);

}  // namespace ix::pacing
