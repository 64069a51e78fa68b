// The bulk-targets documents of the engagement service contract (docs/pacing.md): the request
// body built from one cycle's decisions, and the 200 response parsed and validated into pending
// invitations and per-target errors. Pure functions over strings; no thread concerns. 10,000
// targets build and parse in a few milliseconds (perf/engagement_bench).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/result.h"
#include "proxy/pacing/invitation_answers.h"
#include "proxy/pacing/pacing_engine.h"

namespace ix::pacing {

// One per-target error the service reported ("errors": [{"id", "code", "message"}]).
struct TargetError {
  std::string id;
  std::string code;
  std::string message;
};

struct BulkTargetsAnswer {
  // By index into the posted decisions; nullopt: the service did not mention the target (it
  // keeps its previous pending count).
  std::vector<std::optional<uint32_t>> pending;
  // By index too: the target's running invitation totals ("invitationsAnswered",
  // "invitationsAccepted", "answerDelaySeconds", optional and together); nullopt where the
  // service did not report them (an older service, or a target it did not mention).
  std::vector<std::optional<InvitationTotals>> invitations;
  std::vector<TargetError> errors;
};

// {"fencingToken", "intervalSeconds", "targets": [{"id", "virtualQueue", "mediaType",
// "invitationsAllowed", "intervalSeconds"}]}. Decisions without a target are skipped.
std::string build_bulk_targets_body(const std::vector<TargetDecision>& decisions, uint64_t fencing,
                                    double interval_seconds);

// The ids posted, by index into the decisions (empty where a decision has no target).
std::vector<std::string> target_ids(const std::vector<TargetDecision>& decisions);

// Validates a 200 response against the contract, with `ids` the posted target ids; the error
// text says what was invalid (the PacingResponseValidationError alarm's reason).
Result<BulkTargetsAnswer> parse_bulk_targets_answer(std::string_view body, const std::vector<std::string>& ids);

}  // namespace ix::pacing
