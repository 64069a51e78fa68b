// Conditions and orders over interactions: the small expression language of find, snapshots and
// views (docs/conditions.md). Text is parsed once into a tree and evaluated in memory against
// each interaction — never pasted into SQL. A parse error says what was expected and at which
// character position (1-based) of the text.
//
//   condition := or
//   or        := and ("OR" and)*
//   and       := not ("AND" not)*
//   not       := "NOT" not | "(" condition ")" | comparison
//   comparison:= operand ("=" | "!=" | "<>" | "<" | "<=" | ">" | ">=") operand
//              | operand ["NOT"] "IN" "(" literal ("," literal)* ")"
//   operand   := attribute | "ud." name | "ud['" any text "']" | literal
//   literal   := 'text' (quote doubled to escape) | integer
//   order     := key ("," key)*        key := operand-attribute ["ASC" | "DESC"]
//
// Keywords are case-insensitive. Attributes: interaction_id, tenant_id, media_type,
// interaction_type, interaction_subtype, parent_id, priority, state, queue, workbin_type,
// agent_id, place_id, submitted (submitted_at_us), placed (placed_at_us). A user-data key that
// an interaction lacks makes every comparison on it false.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "protocol/result.h"
#include "protocol/wire/ixcluster_generated.h"

namespace ix::query {

// Find limits, the same on every node (a proxy applies them to the merged result).
inline constexpr uint32_t kDefaultFindLimit = 100;
inline constexpr uint32_t kMaxFindLimit = 10'000;

using Value = std::variant<std::monostate, int64_t, std::string>;  // monostate: absent

struct Operand {
  enum class Kind { kAttribute, kUserData, kLiteral } kind = Kind::kLiteral;
  std::string name;  // attribute or user-data key
  Value literal;
  Value of(const proto::InteractionInfoT& interaction) const;
};

class Condition {
 public:
  struct Node;
  // An empty text is the condition that every interaction meets.
  static Result<Condition> parse(std::string_view text);
  bool matches(const proto::InteractionInfoT& interaction) const;
  bool empty() const { return root_ == nullptr; }
  // The string values an attribute must have for the condition to hold, when the condition says
  // so at its top level ("media_type = 'email' AND …", "media_type IN ('chat', 'sms')"); nothing
  // when any value could match. The proxy uses it to ask only the pairs that can hold a match.
  std::optional<std::vector<std::string>> required_values(std::string_view attribute) const;

 private:
  std::shared_ptr<const Node> root_;
};

class Order {
 public:
  // An empty text orders by priority (highest first), then submission time (oldest first).
  static Result<Order> parse(std::string_view text);
  bool less(const proto::InteractionInfoT& a, const proto::InteractionInfoT& b) const;

 private:
  struct Key {
    Operand operand;
    bool descending = false;
  };
  std::vector<Key> keys_;
};

}  // namespace ix::query
