// CompiledView: a configured view ([[views]]) with its condition and order parsed once, when the
// configuration is loaded or reloaded. Immutable; held by the ServiceContext (its views).
#pragma once

#include "cluster-config/model.h"
#include "protocol/query/condition.h"

namespace ix::node {

struct CompiledView {
  const config::View* view;
  query::Condition condition;
  query::Order order;
  bool default_order;  // the queues' own order: no sorting needed
};

}  // namespace ix::node
