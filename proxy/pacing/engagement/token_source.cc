#include "proxy/pacing/engagement/token_source.h"

#include <openssl/base64.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace ix::pacing {

namespace {

std::string_view trim(std::string_view s) {
  const char* space = " \t\r\n\v\f";
  const size_t first = s.find_first_not_of(space);
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(space) - first + 1);
}

std::string base64(const std::string& text) {
  size_t length = 0;
  EVP_EncodedLength(&length, text.size());
  std::string out(length, '\0');
  EVP_EncodeBlock(reinterpret_cast<uint8_t*>(out.data()), reinterpret_cast<const uint8_t*>(text.data()), text.size());
  out.resize(length - 1);  // EVP_EncodedLength counts the terminating NUL
  return out;
}

// RFC 6749 §2.3.1: client id and secret are form-urlencoded before Basic encoding.
std::string form_encode(std::string_view text) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else if (c == ' ') {
      out += '+';
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

Error token_error(ExchangeFailure kind, std::string text) { return Error{static_cast<int>(kind), std::move(text)}; }

}  // namespace

Result<Credentials> parse_credentials(std::string_view text, const std::string& source) {
  std::string_view line = trim(text);
  if (line.find('\n') != std::string_view::npos) {
    return Error{0, source + " must hold one line \"client_id:client_secret\", not several"};
  }
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos) return Error{0, source + " does not hold \"client_id:client_secret\" (no ':')"};
  Credentials c{std::string(line.substr(0, colon)), std::string(line.substr(colon + 1))};
  if (c.client_id.empty()) return Error{0, source + " has an empty client_id"};
  if (c.client_secret.empty()) return Error{0, source + " has an empty client_secret"};
  return c;
}

Result<Credentials> load_credentials(const std::string& file, const std::string& env) {
  if (!file.empty()) {
    std::ifstream in(file, std::ios::binary);
    if (!in) return Error{0, "cannot read the credentials file \"" + file + "\""};
    std::ostringstream text;
    text << in.rdbuf();
    return parse_credentials(text.str(), "the credentials file \"" + file + "\"");
  }
  if (!env.empty()) {
    const char* value = std::getenv(env.c_str());
    if (value == nullptr) return Error{0, "the credentials environment variable " + env + " is not set"};
    return parse_credentials(value, "the credentials environment variable " + env);
  }
  return Error{0, "no credentials: set credentials-file or credentials-env"};
}

TokenSource::TokenSource(uv_loop_t* loop, HttpUrl auth_url, Credentials credentials, TransportSettings settings,
                         ClockFunction clock)
    : loop_(loop),
      auth_url_(std::move(auth_url)),
      basic_(base64(form_encode(credentials.client_id) + ":" + form_encode(credentials.client_secret))),
      settings_(std::move(settings)),
      clock_(std::move(clock)) {}

TokenSource::~TokenSource() {
  if (exchange_) exchange_->cancel();
}

const std::string* TokenSource::fresh() const {
  if (token_.empty() || now() >= renew_at_) return nullptr;
  return &token_;
}

void TokenSource::invalidate() { token_.clear(); }

void TokenSource::fetch(Clock::time_point deadline, Callback callback) {
  if (exchange_) exchange_->cancel();
  ++fetches_;
  HttpCall call;
  call.method = "POST";
  call.url = auth_url_;
  call.headers = {{"Authorization", "Basic " + basic_},
                  {"Content-Type", "application/x-www-form-urlencoded"},
                  {"Accept", "application/json"},
                  {"User-Agent", "ixproxy-pacing"}};
  call.body = std::make_shared<const std::string>("grant_type=client_credentials");
  const Clock::time_point asked = now();
  exchange_ = HttpExchange::start(loop_, std::move(call), settings_, deadline,
                                  [this, asked, callback = std::move(callback)](Result<HttpAnswer> result) {
    exchange_.reset();
    const std::string where = "token request to " + auth_url_.text;
    if (!result) {
      callback(Error{result.error().code, "token request: " + result.error().text});
      return;
    }
    const HttpAnswer& answer = *result;
    if (answer.status != 200) {
      std::string detail;
      nlohmann::json doc = nlohmann::json::parse(answer.body, nullptr, false);
      if (doc.is_object() && doc.contains("error") && doc["error"].is_string()) detail = " (" + doc["error"].get<std::string>() + ")";
      callback(token_error(ExchangeFailure::kStatus, where + " answered HTTP " + std::to_string(answer.status) + detail));
      return;
    }
    nlohmann::json doc = nlohmann::json::parse(answer.body, nullptr, false);
    auto bad = [&](const std::string& why) {
      callback(token_error(ExchangeFailure::kProtocol, where + ": " + why));
    };
    if (doc.is_discarded() || !doc.is_object()) return bad("the answer is not a JSON object");
    auto token = doc.find("access_token");
    if (token == doc.end() || !token->is_string() || token->get_ref<const std::string&>().empty()) {
      return bad("the answer has no \"access_token\" string");
    }
    if (auto type = doc.find("token_type"); type != doc.end()) {
      std::string t = type->is_string() ? type->get<std::string>() : "";
      std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return std::tolower(c); });
      if (t != "bearer") return bad("\"token_type\" is not \"bearer\"");
    }
    auto expires = doc.find("expires_in");
    if (expires == doc.end() || !expires->is_number_integer() || expires->get<int64_t>() <= 0) {
      return bad("\"expires_in\" is not a positive integer");
    }
    // Renew once less than 10 % of the life (or 30 s, whichever is smaller) remains; the life
    // counts from when we asked, so a slow answer errs on the early side.
    const auto life = std::chrono::seconds(expires->get<int64_t>());
    const auto margin = std::min<Clock::duration>(life / 10, std::chrono::seconds(30));
    token_ = token->get<std::string>();
    renew_at_ = asked + life - margin;
    callback(token_);
  });
}

}  // namespace ix::pacing
