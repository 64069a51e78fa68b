#include "protocol/http/http_request_parser.h"

#include <cctype>
#include <climits>

namespace ix::http {

const std::string* HttpRequest::header(const std::string& lower_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_name) return &value;
  }
  return nullptr;
}

HttpRequestParser::HttpRequestParser(HttpLimits limits, OnRequest on_request)
    : limits_(limits), on_request_(std::move(on_request)) {
  llhttp_settings_init(&settings_);
  settings_.on_message_begin = [](llhttp_t* p) { return self(p)->on_message_begin(); };
  settings_.on_url = [](llhttp_t* p, const char* at, size_t n) { return self(p)->on_url(at, n); };
  settings_.on_header_field = [](llhttp_t* p, const char* at, size_t n) { return self(p)->on_header_field(at, n); };
  settings_.on_header_value = [](llhttp_t* p, const char* at, size_t n) { return self(p)->on_header_value(at, n); };
  settings_.on_headers_complete = [](llhttp_t* p) { return self(p)->on_headers_complete(); };
  settings_.on_body = [](llhttp_t* p, const char* at, size_t n) { return self(p)->on_body(at, n); };
  settings_.on_message_complete = [](llhttp_t* p) { return self(p)->on_message_complete(); };
  llhttp_init(&parser_, HTTP_REQUEST, &settings_);
  parser_.data = this;
}

HttpRequestParser::Outcome HttpRequestParser::feed(std::span<const uint8_t> data) {
  if (stopped_) return Outcome::kStopped;
  if (failed_) return Outcome::kFailed;
  const llhttp_errno_t rc = llhttp_execute(&parser_, reinterpret_cast<const char*>(data.data()), data.size());
  if (rc == HPE_OK) return Outcome::kMore;
  if (stopped_) return Outcome::kStopped;
  failed_ = true;
  if (failure_text_.empty()) {
    const char* reason = llhttp_get_error_reason(&parser_);
    failure_status_ = 400;
    failure_text_ = std::string("malformed HTTP request: ") + llhttp_errno_name(rc) + ": " + (reason ? reason : "");
  }
  return Outcome::kFailed;
}

// Stops the parser; feed() then reports this failure.
int HttpRequestParser::reject(int status, std::string text) {
  failure_status_ = status;
  failure_text_ = std::move(text);
  return -1;
}

int HttpRequestParser::count_header_bytes(size_t n) {
  header_bytes_ += n;
  if (header_bytes_ > limits_.max_header_bytes) {
    return reject(431, "request line and headers exceed " + std::to_string(limits_.max_header_bytes) + " bytes");
  }
  return HPE_OK;
}

int HttpRequestParser::on_message_begin() {
  request_ = HttpRequest{};
  url_.clear();
  header_bytes_ = 0;
  in_value_ = false;
  return HPE_OK;
}

int HttpRequestParser::on_url(const char* at, size_t n) {
  url_.append(at, n);
  return count_header_bytes(n);
}

int HttpRequestParser::on_header_field(const char* at, size_t n) {
  if (in_value_ || request_.headers.empty()) request_.headers.emplace_back();
  in_value_ = false;
  std::string& name = request_.headers.back().first;
  for (size_t i = 0; i < n; ++i) name += static_cast<char>(std::tolower(static_cast<unsigned char>(at[i])));
  return count_header_bytes(n);
}

int HttpRequestParser::on_header_value(const char* at, size_t n) {
  in_value_ = true;
  if (request_.headers.empty()) request_.headers.emplace_back();
  request_.headers.back().second.append(at, n);
  return count_header_bytes(n);
}

int HttpRequestParser::on_headers_complete() {
  request_.method = llhttp_method_name(static_cast<llhttp_method_t>(parser_.method));
  const auto q = url_.find('?');
  request_.path = url_.substr(0, q);
  if (q != std::string::npos) request_.query = url_.substr(q + 1);
  if (parser_.content_length > limits_.max_body_bytes && parser_.content_length != ULLONG_MAX) {
    return reject(413, "request body exceeds " + std::to_string(limits_.max_body_bytes) + " bytes");
  }
  return HPE_OK;
}

int HttpRequestParser::on_body(const char* at, size_t n) {
  if (request_.body.size() + n > limits_.max_body_bytes) {
    return reject(413, "request body exceeds " + std::to_string(limits_.max_body_bytes) + " bytes");
  }
  request_.body.append(at, n);
  return HPE_OK;
}

int HttpRequestParser::on_message_complete() {
  if (on_request_(request_, llhttp_should_keep_alive(&parser_) != 0)) return HPE_OK;
  stopped_ = true;
  return HPE_USER;  // parse nothing more; pipelined bytes after a close are ignored
}

}  // namespace ix::http
