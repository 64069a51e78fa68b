// libFuzzer target: the admin ports' HTTP request parser (HttpRequestParser over llhttp), as an
// HttpServer connection drives it — bytes in reads of any size, requests answered one by one
// (keep-alive and pipelining), a request with "Connection: close" ends the connection. The
// limits are small so that both are reached. Invariants: nothing crashes; every request handed
// on stays within the limits and has a path without its query; a failure is 400, 413 or 431
// with a reason, and nothing is handed on after it.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>

#include "protocol/http/http_request_parser.h"

namespace {

constexpr ix::http::HttpLimits kLimits{512, 1024};

void check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "http_request_fuzz: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const size_t chunk = 1 + data[0] % 97;  // how the stream is split across reads
  std::span<const uint8_t> stream(data + 1, size - 1);
  bool failed = false;
  ix::http::HttpRequestParser parser(kLimits, [&](const ix::http::HttpRequest& request, bool keep_alive) {
    check(!failed, "a request was handed on after a failure");
    size_t header_bytes = request.path.size() + request.query.size();
    for (const auto& [name, value] : request.headers) header_bytes += name.size() + value.size();
    check(header_bytes <= kLimits.max_header_bytes + 1, "request line and headers over the limit");
    check(request.body.size() <= kLimits.max_body_bytes, "body over the limit");
    check(request.path.find('?') == std::string::npos, "the path keeps its query");
    check(!request.method.empty(), "no method");
    (void)request.header("content-type");
    return keep_alive;
  });
  for (size_t at = 0; at < stream.size(); at += chunk) {
    const auto outcome = parser.feed(stream.subspan(at, std::min(chunk, stream.size() - at)));
    if (outcome == ix::http::HttpRequestParser::Outcome::kFailed) {
      const int status = parser.failure_status();
      check(status == 400 || status == 413 || status == 431, "a failure that is not 400, 413 or 431");
      check(!parser.failure_text().empty(), "a failure without a reason");
      failed = true;
      check(parser.feed(stream.subspan(at, 0)) == ix::http::HttpRequestParser::Outcome::kFailed, "a failed parser recovered");
      break;
    }
    if (outcome == ix::http::HttpRequestParser::Outcome::kStopped) break;
  }
  return 0;
}
