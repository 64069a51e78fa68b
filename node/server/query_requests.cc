// Queries: views compiled from the configuration, find, snapshots (take, page,
// release, with optional locking), and lock/unlock. Locks and snapshots belong to the client
// session that made them and are released when it disconnects; they are not persisted, so a
// failover releases them too.
#include <algorithm>

#include "node/server/requests.h"
#include "protocol/log.h"

namespace ix::node {

namespace {

using query::Condition;
using query::kDefaultFindLimit;
using query::Order;
using query::kMaxFindLimit;
constexpr uint32_t kMaxPage = 1'000;

using wire::str;

bool is_default_order(const std::string& order) {
  return order.empty() || order == "priority desc, submitted asc";
}

}  // namespace

Result<std::map<std::string, CompiledView>> compile_views(const config::ClusterConfig& config) {
  std::map<std::string, CompiledView> compiled;
  for (const config::View& view : config.views) {
    auto condition = Condition::parse(view.condition);
    if (!condition) return Error{0, "view \"" + view.id + "\" condition: " + condition.error().text};
    auto order = Order::parse(view.order);
    if (!order) return Error{0, "view \"" + view.id + "\" order: " + order.error().text};
    compiled.emplace(view.id, CompiledView{&view, std::move(*condition), std::move(*order), is_default_order(view.order)});
  }
  return compiled;
}

std::vector<Interaction*> select(ServiceContext& ctx, const std::vector<std::string>& queues, const CompiledView& view,
                                 size_t limit) {
  const Condition& condition = view.condition;
  if (condition.empty() && view.default_order) return ctx.interactions.peek(queues, limit);  // queue order already
  std::vector<Interaction*> candidates;
  for (Interaction* i : ctx.interactions.peek(queues, SIZE_MAX)) {
    if (condition.matches(*i)) candidates.push_back(i);
  }
  const size_t n = std::min(limit, candidates.size());
  std::partial_sort(candidates.begin(), candidates.begin() + static_cast<ptrdiff_t>(n), candidates.end(),
                    [&](const Interaction* a, const Interaction* b) { return view.order.less(*a, *b); });
  candidates.resize(n);
  return candidates;
}

void handle_find(ServiceContext& ctx, ClientSession& s, const proto::Envelope& e) {
  const proto::RequestFind* r = e.body_as_RequestFind();
  const std::string tenant = str(r->tenant_id());
  if (tenant.empty()) return ctx.refuse(s, e, proto::ErrorCode::MissingAttribute, "RequestFind.tenant_id is missing");
  auto condition = Condition::parse(str(r->condition()));
  if (!condition) return ctx.refuse(s, e, proto::ErrorCode::InvalidCondition, "RequestFind.condition " + condition.error().text);
  auto order = Order::parse(str(r->order()));
  if (!order) return ctx.refuse(s, e, proto::ErrorCode::InvalidCondition, "RequestFind.order " + order.error().text);
  const uint32_t limit = r->limit() == 0 ? kDefaultFindLimit : r->limit();
  if (limit > kMaxFindLimit) {
    return ctx.refuse(s, e, proto::ErrorCode::InvalidAttribute,
                  "RequestFind.limit " + std::to_string(limit) + " exceeds " + std::to_string(kMaxFindLimit));
  }
  std::vector<const Interaction*> found;
  ctx.interactions.for_each([&](const Interaction& i) {
    if (i.tenant_id == tenant && condition->matches(i)) found.push_back(&i);
  });
  const size_t n = std::min<size_t>(limit, found.size());
  std::partial_sort(found.begin(), found.begin() + static_cast<ptrdiff_t>(n), found.end(),
                    [&](const Interaction* a, const Interaction* b) { return order->less(*a, *b); });
  proto::EventFindResultT reply;
  for (size_t i = 0; i < n; ++i) reply.interactions.push_back(std::make_unique<Interaction>(*found[i]));
  s.send(wire::encode_frame(e.ref_id(), e.client_id(), reply));
}

void handle_take_snapshot(ServiceContext& ctx, ClientSession& s, const proto::Envelope& e) {
  const proto::RequestTakeSnapshot* r = e.body_as_RequestTakeSnapshot();
  const std::string view_id = str(r->view_id()), text = str(r->condition());
  if (view_id.empty() && text.empty()) {
    return ctx.refuse(s, e, proto::ErrorCode::MissingAttribute, "RequestTakeSnapshot needs a view_id or a condition");
  }
  auto condition = Condition::parse(text);
  if (!condition) return ctx.refuse(s, e, proto::ErrorCode::InvalidCondition, "RequestTakeSnapshot.condition " + condition.error().text);
  auto order = Order::parse(str(r->order()));
  if (!order) return ctx.refuse(s, e, proto::ErrorCode::InvalidCondition, "RequestTakeSnapshot.order " + order.error().text);
  const uint32_t cap = ctx.pair().settings.max_interactions_per_snapshot;
  const uint32_t max = r->max() == 0 ? cap : std::min(r->max(), cap);

  std::vector<Interaction*> selected;
  if (!view_id.empty()) {
    auto v = ctx.views.find(view_id);
    if (v == ctx.views.end()) return ctx.refuse(s, e, proto::ErrorCode::UnknownView, "RequestTakeSnapshot.view_id \"" + view_id + "\" does not exist");
    for (Interaction* i : ctx.interactions.peek(v->second.view->queues, SIZE_MAX)) {
      if (v->second.condition.matches(*i) && condition->matches(*i)) selected.push_back(i);
    }
  } else {
    const std::string tenant = str(r->tenant_id());
    ctx.interactions.for_each([&](const Interaction& i) {
      if (!i.locked && (tenant.empty() || i.tenant_id == tenant) && condition->matches(i)) {
        selected.push_back(ctx.interactions.find(i.interaction_id));
      }
    });
  }
  const size_t n = std::min<size_t>(max, selected.size());
  std::partial_sort(selected.begin(), selected.begin() + static_cast<ptrdiff_t>(n), selected.end(),
                    [&](const Interaction* a, const Interaction* b) { return order->less(*a, *b); });
  selected.resize(n);

  proto::EventSnapshotTakenT reply;
  reply.snapshot_id = ctx.snapshot_locks.take(&s, selected, r->lock(), ctx.pair().tag);
  reply.count = static_cast<uint32_t>(selected.size());
  s.send(wire::encode_frame(e.ref_id(), e.client_id(), reply));
}

void handle_snapshot_page(ServiceContext& ctx, ClientSession& s, const proto::Envelope& e) {
  const proto::RequestSnapshotPage* r = e.body_as_RequestSnapshotPage();
  const SnapshotLocks::Snapshot* snapshot = ctx.snapshot_locks.snapshot(str(r->snapshot_id()));
  if (snapshot == nullptr) {
    return ctx.refuse(s, e, proto::ErrorCode::UnknownSnapshot, "snapshot \"" + str(r->snapshot_id()) + "\" does not exist (or was released)");
  }
  if (r->count() == 0 || r->count() > kMaxPage) {
    return ctx.refuse(s, e, proto::ErrorCode::InvalidAttribute,
                  "RequestSnapshotPage.count " + std::to_string(r->count()) + " is out of range 1.." + std::to_string(kMaxPage));
  }
  proto::EventSnapshotPageT page;
  page.snapshot_id = str(r->snapshot_id());
  page.start = r->start();
  const std::vector<std::string>& ids = snapshot->ids;
  for (size_t i = r->start(); i < ids.size() && i < static_cast<size_t>(r->start()) + r->count(); ++i) {
    if (const Interaction* interaction = ctx.interactions.find(ids[i])) {
      page.interactions.push_back(std::make_unique<Interaction>(*interaction));
    }
  }
  s.send(wire::encode_frame(e.ref_id(), e.client_id(), page));
}

void handle_release_snapshot(ServiceContext& ctx, ClientSession& s, const proto::Envelope& e) {
  const std::string id = str(e.body_as_RequestReleaseSnapshot()->snapshot_id());
  if (!ctx.snapshot_locks.release(id)) {
    return ctx.refuse(s, e, proto::ErrorCode::UnknownSnapshot, "snapshot \"" + id + "\" does not exist (or was released)");
  }
  s.send(wire::encode_ack(e.ref_id(), e.client_id()));
}

void handle_lock(ServiceContext& ctx, ClientSession& s, const proto::Envelope& e, bool lock) {
  const flatbuffers::String* id = lock ? e.body_as_RequestLock()->interaction_id() : e.body_as_RequestUnlock()->interaction_id();
  Interaction* interaction = ctx.find_interaction(s, e, id, lock ? "RequestLock" : "RequestUnlock");
  if (interaction == nullptr) return;
  const ClientSession* owner = ctx.snapshot_locks.owner(interaction->interaction_id);
  if (lock) {
    if (interaction->locked) {
      return ctx.refuse(s, e, proto::ErrorCode::InteractionLocked, "interaction " + interaction->interaction_id + " is already locked");
    }
    if (!interaction->agent_id.empty()) {
      return ctx.refuse(s, e, proto::ErrorCode::WrongState,
                    "interaction " + interaction->interaction_id + " is with agent " + interaction->agent_id);
    }
    ctx.snapshot_locks.lock(*interaction, &s);
  } else {
    if (!interaction->locked) {
      return ctx.refuse(s, e, proto::ErrorCode::WrongState, "interaction " + interaction->interaction_id + " is not locked");
    }
    if (owner != nullptr && owner != &s && s.client_type() != proto::ClientType::Proxy) {
      return ctx.refuse(s, e, proto::ErrorCode::InteractionLocked,
                    "interaction " + interaction->interaction_id + " is locked by another client");
    }
    ctx.snapshot_locks.unlock(*interaction);
  }
  s.send(wire::encode_ack(e.ref_id(), e.client_id()));
}

}  // namespace ix::node
