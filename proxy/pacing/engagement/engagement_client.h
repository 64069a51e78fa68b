// EngagementClient: the pacing module's link to the engagement service. Once per cycle
// post_targets() sends every target's decision in one HTTPS POST (the bulk-targets contract,
// docs/pacing.md) and calls back once with what the pacing alarms need: ok (with the pending
// invitations and any per-target errors), failed (which URL, what happened), or a 200 whose body
// broke the contract (what was invalid).
//
// Per post: the cached OAuth2 token (TokenSource), renewed when due; the base URLs in order —
// the next one after a connection or TLS failure or a 5xx; after a 401 a fresh token and one
// retry; never an attempt that would run past the deadline (the deadline closes whatever is in
// flight and the callback reports a timeout). The module maps [pacing] configuration to
// EngagementOptions; this class reads no configuration itself.
//
// Threads: the loop's thread (the pacing module's) only; nothing blocks it. The callback never
// runs from inside post_targets(); one post at a time (a second one while the first runs fails at
// once). Destroying the client cancels a post in flight without calling back and closes the idle
// connections; the loop must then run once more so that the closed handles are released.
#pragma once

#include <uv.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "protocol/net/endpoint.h"
#include "protocol/net/timer.h"
#include "protocol/result.h"
#include "proxy/pacing/engagement/bulk_targets.h"
#include "proxy/pacing/engagement/http_exchange.h"
#include "proxy/pacing/engagement/token_source.h"
#include "proxy/pacing/pacing_engine.h"

namespace ix::pacing {

struct EngagementOptions {
  std::vector<std::string> base_urls;  // tried in order
  std::string target_endpoint = "v2/journey/actiontargets/bulk";
  std::string auth_url;  // the OAuth2 token endpoint
  std::string client_id;
  std::string client_secret;
  std::string ca_file;  // trusted CAs (PEM); empty: the system store
  std::string ca_pem;   // or the CAs as PEM text (tests)
  std::optional<net::Endpoint> forward_proxy;  // an HTTP proxy that accepts CONNECT
  std::string node_id;                         // X-Pacing-Node: the posting proxy's ID
  uint64_t connect_timeout_ms = 2000;          // per TCP connect, so a silent first URL leaves time for the next
  size_t max_response_bytes = 16 * 1024 * 1024;
  bool keep_alive = true;                      // keep connections open between cycles (for up to 30 s idle)
  TokenSource::ClockFunction token_clock;      // tests: when tokens are due; steady_clock when empty
};

struct PostResult {
  enum class Outcome {
    kOk,       // 200 and a valid body (errors may still hold per-target errors)
    kFailed,   // no usable answer: PacingRequestsFailed
    kInvalid,  // 200 with a body that breaks the contract: PacingResponseValidationError
  };
  Outcome outcome = Outcome::kFailed;
  std::string reason;  // failed: every attempt, "URL: what happened"; invalid: what was invalid
  int http_status = 0; // of the last answer, 0 if none
  std::string url;     // the URL of the last attempt
  int attempts = 0;    // bulk POSTs sent (or tried)
  // kOk: by index into the posted decisions; nullopt where the service did not mention a target.
  std::vector<std::optional<uint32_t>> pending;
  std::vector<std::optional<InvitationTotals>> invitations;  // kOk: by index, where the service reported them
  std::vector<TargetError> errors;  // kOk: PacingResponseTargetError when not empty

  bool ok() const { return outcome == Outcome::kOk; }
};

class EngagementClient {
 public:
  using Callback = std::function<void(PostResult)>;

  // Checks the URLs, the credentials and the trusted CAs; the error says which is wrong.
  static Result<std::unique_ptr<EngagementClient>> create(uv_loop_t* loop, EngagementOptions options);
  ~EngagementClient();
  EngagementClient(const EngagementClient&) = delete;
  EngagementClient& operator=(const EngagementClient&) = delete;

  // One cycle's POST of every decision; `callback` runs once, by `deadline` at the latest.
  void post_targets(const std::vector<TargetDecision>& decisions, uint64_t fencing, double interval_seconds,
                    Clock::time_point deadline, Callback callback);

  bool busy() const { return post_ != nullptr; }
  uint64_t token_fetches() const { return tokens_->fetches(); }
  uint64_t reused_connections() const { return settings_.idle ? settings_.idle->reused() : 0; }
  const std::vector<HttpUrl>& target_urls() const { return target_urls_; }

 private:
  struct Post;

  EngagementClient(uv_loop_t* loop, EngagementOptions options, std::vector<HttpUrl> urls, TransportSettings settings,
                   std::unique_ptr<TokenSource> tokens);
  void attempt();
  void send(const std::string& token);
  void on_answer(Result<HttpAnswer> result);
  void next_url_or_fail();
  void finish();

  uv_loop_t* loop_;
  EngagementOptions options_;
  std::vector<HttpUrl> target_urls_;
  TransportSettings settings_;
  std::unique_ptr<TokenSource> tokens_;
  net::Timer defer_;  // delivers "busy" answers after post_targets() returned
  std::vector<std::shared_ptr<std::pair<PostResult, Callback>>> busy_;
  std::unique_ptr<Post> post_;
};

}  // namespace ix::pacing
