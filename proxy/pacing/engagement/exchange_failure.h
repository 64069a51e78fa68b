// ExchangeFailure: how an HTTP exchange with the engagement service (or its token endpoint) can
// fail, and the one place that classifies failures: whether the next base URL is worth trying.
// The code travels in ix::Error::code; the text names the URL and what happened. Pure; no
// thread concerns.
#pragma once

namespace ix::pacing {

enum class ExchangeFailure : int {
  kResolve = 1,    // the host name did not resolve
  kConnect,        // TCP connect refused, unreachable or timed out
  kForwardProxy,   // the forward proxy refused or broke the CONNECT tunnel
  kTls,            // the TLS handshake failed (certificate, name, protocol)
  kTimeout,        // the exchange's deadline passed
  kProtocol,       // the peer broke HTTP (malformed response, closed mid-response)
  kTooLarge,       // the response exceeded the size limit
  kStatus,         // an HTTP status the caller did not want (the status is in the text)
};

// Whether the service at this URL is unusable as a whole, so the next base URL may do better
// (the contract: connection and TLS failures, and 5xx answers).
inline bool try_next_base_url(ExchangeFailure failure, int http_status) {
  switch (failure) {
    case ExchangeFailure::kResolve:
    case ExchangeFailure::kConnect:
    case ExchangeFailure::kForwardProxy:
    case ExchangeFailure::kTls:
    case ExchangeFailure::kProtocol:  // a reset or a broken answer: the connection failed
      return true;
    case ExchangeFailure::kStatus:
      return http_status >= 500 && http_status <= 599;
    case ExchangeFailure::kTimeout:  // no time left anyway
    case ExchangeFailure::kTooLarge:
      return false;
  }
  return false;
}

}  // namespace ix::pacing
