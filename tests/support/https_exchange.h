// https_exchange: http_exchange (http_exchange.h) over TLS. The test's client verifies the
// server's certificate against a CA file and the name "localhost", sends raw request bytes and
// returns everything the server wrote until it closed the connection (send "Connection: close").
// https_request() builds the request: method, path, headers, a body with its Content-Length.
//
// Runs on the test's own loop and thread.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "protocol/net/tls_context.h"
#include "tests/support/frame_peers.h"
#include "tests/support/http_exchange.h"
#include "tests/support/test_loop.h"

namespace ix::test {

struct HttpsExchange : HttpExchange {
  bool answered() const { return !response.empty(); }
  std::string close_reason;  // why the connection ended (a TLS failure names itself here)
};

// timeout_ms bounds the wait for the server to answer and close; a server that never answers
// leaves response empty and closed false.
inline HttpsExchange https_exchange(TestLoop& loop, uint16_t port, const std::string& ca_file, const std::string& request,
                                    uint64_t timeout_ms = 5000) {
  HttpsExchange out;
  net::TlsOptions options;
  options.ca_file = ca_file;
  options.server_name = "localhost";
  auto tls = net::TlsContext::create_client(options);
  if (!tls) {
    out.close_reason = tls.error().text;
    return out;
  }
  auto connection = connect_to(loop.get(), port, *tls);
  bool done = false;
  connection->set_on_data([&](std::span<const uint8_t> d) { out.response.append(d.begin(), d.end()); });
  connection->set_on_close([&](const std::string& reason) {
    out.close_reason = reason;
    done = true;
  });
  connection->write(std::span(reinterpret_cast<const uint8_t*>(request.data()), request.size()));
  out.closed = loop.run_until([&] { return done; }, timeout_ms);
  if (!done) {
    connection->abort("test timed out");
    loop.run_until([&] { return done; }, 1000);
  }
  return out;
}

inline std::string https_request_text(const std::string& method, const std::string& path,
                                      const std::vector<std::pair<std::string, std::string>>& headers = {},
                                      const std::string& body = "") {
  std::string out = method + " " + path + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n";
  for (const auto& [name, value] : headers) out += name + ": " + value + "\r\n";
  if (!body.empty() || method == "POST") out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  return out + "\r\n" + body;
}

inline HttpsExchange https_request(TestLoop& loop, uint16_t port, const std::string& ca_file, const std::string& method,
                                   const std::string& path, const std::vector<std::pair<std::string, std::string>>& headers = {},
                                   const std::string& body = "", uint64_t timeout_ms = 5000) {
  return https_exchange(loop, port, ca_file, https_request_text(method, path, headers, body), timeout_ms);
}

}  // namespace ix::test
