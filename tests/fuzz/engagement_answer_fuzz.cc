// libFuzzer target: the pacing module's reader of the engagement service's answer (the body of a
// 200 response to the bulk-targets POST, proxy/pacing/engagement/bulk_targets.h) — a SAX reader
// written for speed, facing a service on the network. Invariants: nothing crashes; an accepted
// answer has one pending slot per posted target, none for a target that was not posted (an empty
// id), and every error it lists has an id.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/pacing/engagement/bulk_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::vector<std::string> ids = {"chat-sales", "", "email-support", "t\xc3\xa9l\xc3\xa9"};
  std::string_view body(reinterpret_cast<const char*>(data), size);
  auto answer = ix::pacing::parse_bulk_targets_answer(body, ids);
  if (!answer.ok()) {
    if (answer.error().text.empty()) std::abort();
    return 0;
  }
  if (answer->pending.size() != ids.size()) std::abort();
  if (answer->pending[1].has_value()) std::abort();
  return 0;
}
