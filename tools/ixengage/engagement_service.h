// EngagementService: the engagement service's HTTP side as the pacing client sees it
// (docs/pacing.md, "The engagement service API"), plus the admin endpoints tests use.
//
//   POST /oauth/token                         OAuth2 client credentials (Basic auth) -> bearer token
//   POST <prefix>v2/journey/actiontargets/bulk the pacing decisions -> pending invitations per target
//   POST /admin/mode {"mode": "..."}          switch the failure mode at run time
//   POST /admin/revoke-tokens                 forget every issued token (the next bulk post gets 401)
//   GET  /admin/state                         what was received and what the visitors did, as JSON
//
// The bulk endpoint checks, in order: the failure mode, the bearer token (401), the body (400
// with the reason), the fencing number (X-Pacing-Fencing-Token and the body's fencingToken must
// agree; one lower than the highest seen is refused with 409 and counted), then hands each
// target's invitationsAllowed to the Visitors and answers their pending invitations and their
// running totals of invitations answered and accepted (docs/pacing.md). With a
// cluster configuration, ids that are not its pacing targets get a per-target error entry.
//
// Single-threaded, on the loop of the HttpServer it registers its routes with.
#pragma once

#include <uv.h>

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "protocol/http/http_server.h"
#include "tools/ixengage/proactive_submitter.h"
#include "tools/ixengage/visitors.h"

namespace ix::engage {

// How the service misbehaves on purpose, for the pacing alarms' tests.
enum class Mode {
  kOk,
  kFail,              // bulk: 500
  kStall,             // bulk: the request is read and never answered
  kUnauthorized,      // token and bulk: 401
  kBulkUnauthorized,  // tokens are issued, bulk: 401
  kInvalidJson,       // bulk: 200 with a body that is not JSON
  kTargetErrors,      // bulk: 200 with every target in "errors"
};

std::optional<Mode> parse_mode(const std::string& text);
const char* mode_name(Mode mode);
// Every mode name, for help texts and error messages.
std::string mode_names();

struct ServiceOptions {
  std::string client_id;
  std::string client_secret;
  uint64_t token_ttl_ms = 3'600'000;
  std::string token_path = "/oauth/token";
  std::string bulk_path = "/api/v2/journey/actiontargets/bulk";
  // The pacing targets of the cluster configuration, by id; nullopt: any id is accepted.
  std::optional<std::map<std::string, TargetInfo>> targets;
  std::string default_tenant;  // for ids accepted without a configuration
  Mode mode = Mode::kOk;
};

class EngagementService {
 public:
  EngagementService(uv_loop_t* loop, http::HttpServer& server, Visitors& visitors, const ProactiveSubmitter& submitter,
                    ServiceOptions options);
  EngagementService(const EngagementService&) = delete;
  EngagementService& operator=(const EngagementService&) = delete;

  nlohmann::json state() const;

 private:
  struct Fencing {
    uint64_t token = 0;
    std::string node;
    bool refused = false;
  };

  http::HttpResponse token(const http::HttpRequest& request);
  http::HttpResponse bulk(const http::HttpRequest& request);
  http::HttpResponse set_mode(const http::HttpRequest& request);
  http::HttpResponse answer(http::HttpResponse response);
  // The reason a bearer token is not accepted, or "" when it is.
  std::string check_bearer(const http::HttpRequest& request);

  uv_loop_t* loop_;
  Visitors& visitors_;
  const ProactiveSubmitter& submitter_;
  ServiceOptions options_;
  std::unordered_map<std::string, uint64_t> tokens_;  // token -> expiry (loop time, ms)

  // What /admin/state reports.
  uint64_t posts_ = 0, refused_ = 0, stalled_ = 0, tokens_issued_ = 0, token_refusals_ = 0;
  std::map<int, uint64_t> answers_;  // bulk answers by HTTP status
  std::optional<uint64_t> highest_fencing_;
  std::vector<Fencing> fencing_;     // every post that carried a valid fencing number, in order
  uint64_t fencing_dropped_ = 0;     // oldest entries dropped to bound the list
  nlohmann::json last_post_;
};

}  // namespace ix::engage
