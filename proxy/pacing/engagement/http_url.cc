#include "proxy/pacing/engagement/http_url.h"

#include <uv.h>

#include <charconv>

namespace ix::pacing {

std::string HttpUrl::authority() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  const bool default_port = (tls && port == 443) || (!tls && port == 80);
  return default_port ? h : h + ":" + std::to_string(port);
}

bool HttpUrl::host_is_ip() const {
  unsigned char buffer[16];
  return uv_inet_pton(AF_INET, host.c_str(), buffer) == 0 || uv_inet_pton(AF_INET6, host.c_str(), buffer) == 0;
}

Result<HttpUrl> parse_http_url(std::string_view text) {
  HttpUrl url;
  url.text = std::string(text);
  auto bad = [&](const std::string& why) { return Error{0, "URL \"" + url.text + "\" " + why}; };
  std::string_view rest;
  if (text.starts_with("https://")) {
    url.tls = true;
    url.port = 443;
    rest = text.substr(8);
  } else if (text.starts_with("http://")) {
    url.tls = false;
    url.port = 80;
    rest = text.substr(7);
  } else {
    return bad("does not start with https:// or http://");
  }
  const size_t slash = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, slash);
  url.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (url.target.front() == '?') url.target.insert(0, "/");
  if (url.target.find('#') != std::string::npos) return bad("has a fragment");
  if (authority.find('@') != std::string_view::npos) return bad("has user info (credentials belong in credentials-file)");
  std::string_view port_text;
  if (authority.starts_with("[")) {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad("has an unterminated IPv6 address");
    url.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad("has text after the IPv6 address");
      port_text = after.substr(1);
      if (port_text.empty()) return bad("has an empty port");
    }
  } else {
    const size_t colon = authority.rfind(':');
    url.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      if (port_text.empty()) return bad("has an empty port");
    }
  }
  if (url.host.empty()) return bad("has no host");
  if (!port_text.empty()) {
    unsigned port = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || port == 0 || port > 65535) {
      return bad("has an invalid port \"" + std::string(port_text) + "\"");
    }
    url.port = static_cast<uint16_t>(port);
  }
  for (char c : url.target) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return bad("has a space or control character in its path");
  }
  return url;
}

std::string join_url(std::string_view base, std::string_view endpoint) {
  std::string out(base);
  if (endpoint.empty()) return out;
  const bool base_slash = !out.empty() && out.back() == '/';
  const bool endpoint_slash = endpoint.front() == '/';
  if (base_slash && endpoint_slash) {
    out.append(endpoint.substr(1));
  } else if (!base_slash && !endpoint_slash) {
    out += '/';
    out.append(endpoint);
  } else {
    out.append(endpoint);
  }
  return out;
}

}  // namespace ix::pacing
