// libFuzzer target: the condition and order parsers, and evaluation of whatever parses,
// against one interaction with user data.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "protocol/query/condition.h"
#include "protocol/wire/kv.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  static const ix::proto::InteractionInfoT interaction = [] {
    ix::proto::InteractionInfoT i;
    i.interaction_id = "p1-0000000000000001";
    i.priority = 3;
    i.media_type = "chat";
    i.user_data = ix::wire::kv_list({{"Segment", "gold"}, {"Score", 7}});
    return i;
  }();
  if (auto condition = ix::query::Condition::parse(text); condition.ok()) (void)condition->matches(interaction);
  if (auto order = ix::query::Order::parse(text); order.ok()) (void)order->less(interaction, interaction);
  return 0;
}
