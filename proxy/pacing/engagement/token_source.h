// TokenSource: the OAuth2 client-credentials token (RFC 6749 §4.4) the engagement client sends
// as "Authorization: Bearer". It POSTs grant_type=client_credentials with HTTP Basic
// credentials to the auth URL, caches the token, and treats it as due for renewal once less than
// 10 % of its life (or 30 s, whichever is smaller) remains; invalidate() after a 401 from the
// bulk endpoint forces a fresh one.
//
// Credentials ("client_id:client_secret", one line, whitespace trimmed) come from a file or an
// environment variable — never the configuration file — through load_credentials().
//
// Threads: the loop's thread only. fetch() calls back once (never from inside fetch()); one
// fetch at a time — the engagement client posts once per cycle.
#pragma once

#include <uv.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "protocol/result.h"
#include "proxy/pacing/engagement/http_exchange.h"
#include "proxy/pacing/engagement/http_url.h"

namespace ix::pacing {

struct Credentials {
  std::string client_id;
  std::string client_secret;
};

// "client_id:client_secret"; `source` names where the text came from, for the error.
Result<Credentials> parse_credentials(std::string_view text, const std::string& source);
// From the file if `file` is set, else from the environment variable `env`.
Result<Credentials> load_credentials(const std::string& file, const std::string& env);

class TokenSource {
 public:
  using Callback = std::function<void(Result<std::string>)>;  // the access token, or why not
  using ClockFunction = std::function<Clock::time_point()>;

  // `clock` decides when a token is due (tests move it forward); steady_clock when empty.
  TokenSource(uv_loop_t* loop, HttpUrl auth_url, Credentials credentials, TransportSettings settings,
              ClockFunction clock = {});
  ~TokenSource();
  TokenSource(const TokenSource&) = delete;
  TokenSource& operator=(const TokenSource&) = delete;

  // The cached token while it is not yet due for renewal, else null.
  const std::string* fresh() const;
  // Fetches a new token before `deadline`. An error's code is an ExchangeFailure.
  void fetch(Clock::time_point deadline, Callback callback);
  // The service refused the token: the next fresh() is null.
  void invalidate();

  uint64_t fetches() const { return fetches_; }  // token requests sent

 private:
  Clock::time_point now() const { return clock_ ? clock_() : Clock::now(); }

  uv_loop_t* loop_;
  HttpUrl auth_url_;
  std::string basic_;  // base64(client_id ":" client_secret)
  TransportSettings settings_;
  ClockFunction clock_;
  std::string token_;
  Clock::time_point renew_at_{};
  std::shared_ptr<HttpExchange> exchange_;
  uint64_t fetches_ = 0;
};

}  // namespace ix::pacing
