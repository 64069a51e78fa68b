// HttpRequestParser: the bytes of one HTTP/1.1 connection cut into requests (llhttp), with the
// limits of the admin ports — request line and headers, body size — checked as the bytes come in.
// HttpServer runs one per connection; the admin-port fuzz target (tests/fuzz/http_request_fuzz.cc)
// drives it with no socket. Owned by its connection, on that connection's loop thread.
#pragma once

#include <llhttp.h>

#include <cstddef>
#include <functional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace ix::http {

struct HttpRequest {
  std::string method;
  std::string path;   // without the query string
  std::string query;  // after '?', undecoded
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;

  const std::string* header(const std::string& lower_name) const;
};

struct HttpLimits {
  size_t max_header_bytes = 16 * 1024;  // request line and headers
  size_t max_body_bytes = 1024 * 1024;
};

class HttpRequestParser {
 public:
  // Called for each complete request; returns false to stop parsing (the connection closes or
  // withholds its answer), and whatever follows in the bytes is not read.
  using OnRequest = std::function<bool(const HttpRequest& request, bool keep_alive)>;

  enum class Outcome {
    kMore,     // every byte was read; more may come
    kStopped,  // on_request asked to stop
    kFailed,   // bad input: failure_status() and failure_text() say what to answer
  };

  HttpRequestParser(HttpLimits limits, OnRequest on_request);
  HttpRequestParser(const HttpRequestParser&) = delete;
  HttpRequestParser& operator=(const HttpRequestParser&) = delete;

  Outcome feed(std::span<const uint8_t> data);

  // After kFailed: 400 (llhttp could not parse it), 431 (headers over the limit) or 413 (body
  // over the limit), and why.
  int failure_status() const { return failure_status_; }
  const std::string& failure_text() const { return failure_text_; }

 private:
  static HttpRequestParser* self(llhttp_t* p) { return static_cast<HttpRequestParser*>(p->data); }
  int reject(int status, std::string text);
  int count_header_bytes(size_t n);
  int on_message_begin();
  int on_url(const char* at, size_t n);
  int on_header_field(const char* at, size_t n);
  int on_header_value(const char* at, size_t n);
  int on_headers_complete();
  int on_body(const char* at, size_t n);
  int on_message_complete();

  HttpLimits limits_;
  OnRequest on_request_;
  llhttp_t parser_;
  llhttp_settings_t settings_;
  HttpRequest request_;
  std::string url_;
  size_t header_bytes_ = 0;
  bool in_value_ = false;
  bool stopped_ = false;
  bool failed_ = false;
  int failure_status_ = 400;
  std::string failure_text_;
};

}  // namespace ix::http
