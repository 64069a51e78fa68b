#include "proxy/pacing/engagement/bulk_targets.h"

#include <nlohmann/json.hpp>

#include <limits>
#include <string_view>
#include <unordered_map>

namespace ix::pacing {

std::string build_bulk_targets_body(const std::vector<TargetDecision>& decisions, uint64_t fencing,
                                    double interval_seconds) {
  nlohmann::json targets = nlohmann::json::array();
  targets.get_ref<nlohmann::json::array_t&>().reserve(decisions.size());
  for (const TargetDecision& d : decisions) {
    if (d.target == nullptr) continue;
    targets.push_back({{"id", d.target->name},
                       {"virtualQueue", d.target->virtual_queue},
                       {"mediaType", d.target->media},
                       {"invitationsAllowed", d.decision.invitations},
                       {"intervalSeconds", interval_seconds}});
  }
  nlohmann::json body = {{"fencingToken", fencing}, {"intervalSeconds", interval_seconds}, {"targets", std::move(targets)}};
  // Replace invalid UTF-8 instead of throwing: names come from configuration, which is UTF-8.
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

namespace {

std::string at(const char* array, size_t index) { return std::string(array) + "[" + std::to_string(index) + "]"; }

}  // namespace

std::vector<std::string> target_ids(const std::vector<TargetDecision>& decisions) {
  std::vector<std::string> ids;
  ids.reserve(decisions.size());
  for (const TargetDecision& d : decisions) ids.push_back(d.target != nullptr ? d.target->name : std::string());
  return ids;
}

Result<BulkTargetsAnswer> parse_bulk_targets_answer(std::string_view body, const std::vector<std::string>& ids) {
  auto invalid = [](std::string what) { return Error{0, std::move(what)}; };
  nlohmann::json doc = nlohmann::json::parse(body, nullptr, false);
  if (doc.is_discarded()) return invalid("the response body is not valid JSON");
  if (!doc.is_object()) return invalid("the response body is not a JSON object");
  auto targets = doc.find("targets");
  if (targets == doc.end()) return invalid("the response has no \"targets\"");
  if (!targets->is_array()) return invalid("\"targets\" is not an array");

  std::unordered_map<std::string_view, size_t> index;
  index.reserve(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    if (!ids[i].empty()) index.emplace(ids[i], i);
  }

  BulkTargetsAnswer answer;
  answer.pending.resize(ids.size());
  size_t n = 0;
  for (const nlohmann::json& element : *targets) {
    const size_t i = n++;
    if (!element.is_object()) return invalid(at("targets", i) + " is not an object");
    auto id = element.find("id");
    if (id == element.end() || !id->is_string()) return invalid(at("targets", i) + " has no string \"id\"");
    auto pending = element.find("pendingInvitations");
    if (pending == element.end()) return invalid(at("targets", i) + " (\"" + id->get_ref<const std::string&>() + "\") has no \"pendingInvitations\"");
    if (!pending->is_number_integer()) {
      return invalid(at("targets", i) + " (\"" + id->get_ref<const std::string&>() + "\"): \"pendingInvitations\" is not an integer");
    }
    if (pending->is_number_unsigned() ? pending->get<uint64_t>() > std::numeric_limits<uint32_t>::max()
                                      : (pending->get<int64_t>() < 0)) {
      return invalid(at("targets", i) + " (\"" + id->get_ref<const std::string&>() + "\"): \"pendingInvitations\" " +
                     pending->dump() + " is out of range (0 to 4294967295)");
    }
    const std::string& name = id->get_ref<const std::string&>();
    auto found = index.find(name);
    if (found == index.end()) return invalid(at("targets", i) + ": unknown target id \"" + name + "\"");
    answer.pending[found->second] = static_cast<uint32_t>(pending->get<int64_t>());
  }

  auto errors = doc.find("errors");
  if (errors != doc.end()) {
    if (!errors->is_array()) return invalid("\"errors\" is not an array");
    size_t e = 0;
    for (const nlohmann::json& element : *errors) {
      const size_t i = e++;
      if (!element.is_object()) return invalid(at("errors", i) + " is not an object");
      auto id = element.find("id");
      if (id == element.end() || !id->is_string()) return invalid(at("errors", i) + " has no string \"id\"");
      TargetError error{id->get<std::string>(), "", ""};
      if (auto code = element.find("code"); code != element.end() && code->is_string()) error.code = code->get<std::string>();
      if (auto message = element.find("message"); message != element.end() && message->is_string()) {
        error.message = message->get<std::string>();
      }
      answer.errors.push_back(std::move(error));
    }
  }
  return answer;
}

}  // namespace ix::pacing
