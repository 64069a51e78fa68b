// http_exchange: sends raw bytes to an HTTP server on the test's own loop and returns everything
// the server wrote until it closed the connection (send "Connection: close" to get that).
#pragma once

#include <string>

#include "tests/support/frame_peers.h"
#include "tests/support/test_loop.h"

namespace ix::test {

struct HttpExchange {
  std::string response;  // raw bytes: status line, headers, body
  bool closed = false;

  int status() const { return response.size() > 12 ? std::stoi(response.substr(9, 3)) : 0; }
  std::string body() const {
    auto at = response.find("\r\n\r\n");
    return at == std::string::npos ? "" : response.substr(at + 4);
  }
  bool has_header(const std::string& line) const { return response.find(line + "\r\n") != std::string::npos; }
};

inline HttpExchange http_exchange(TestLoop& loop, uint16_t port, const std::string& request) {
  HttpExchange out;
  auto connection = connect_to(loop.get(), port);
  connection->set_on_data([&](std::span<const uint8_t> d) { out.response.append(d.begin(), d.end()); });
  connection->set_on_close([&](const std::string&) { out.closed = true; });
  connection->write(std::span(reinterpret_cast<const uint8_t*>(request.data()), request.size()));
  if (!loop.run_until([&] { return out.closed; }, 5000)) connection->abort("test timed out");
  loop.run_until([&] { return out.closed; }, 1000);
  return out;
}

inline HttpExchange http_get(TestLoop& loop, uint16_t port, const std::string& path) {
  return http_exchange(loop, port, "GET " + path + " HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
}

}  // namespace ix::test
