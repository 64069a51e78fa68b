// http_get: one blocking HTTP/1.1 GET of an admin port (/readyz, /status), for tools and for
// threads that may block (never an event loop). Plain TCP, a deadline for the whole exchange,
// the body read until the server closes. http_post: the same with POST and a body (an admin
// action, such as a node pair's switchover).
#pragma once

#include <cstdint>
#include <string>

#include "protocol/result.h"

namespace ix::http {

struct HttpReply {
  int status = 0;
  std::string body;
};

Result<HttpReply> http_get(const std::string& host, uint16_t port, const std::string& path, uint64_t timeout_ms = 2000);
Result<HttpReply> http_post(const std::string& host, uint16_t port, const std::string& path, const std::string& body = "",
                            uint64_t timeout_ms = 2000);

}  // namespace ix::http
