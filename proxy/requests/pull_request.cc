#include "proxy/requests/pull_request.h"

#include <spdlog/spdlog.h>
#include <uv.h>

#include <algorithm>
#include <map>

#include "protocol/log.h"
#include "protocol/query/condition.h"
#include "proxy/requests/tenant_pairs.h"
#include "proxy/route/ordered_merge.h"
#include "proxy/route/pull_pass.h"

namespace ix::proxy {

namespace {

struct Pull {
  Pull(const Call& c, Outgoing r, uint64_t client, PullPass p, std::shared_ptr<const RoutingTable> t)
      : call(c), request(std::move(r)), upstream_client(client), pass(std::move(p)), table(std::move(t)) {}
  Call call;
  Outgoing request;  // native: each pair is asked for what is still missing, with its own hold time
  uint64_t upstream_client;
  PullPass pass;
  std::shared_ptr<const RoutingTable> table;
  bool waiting = false;  // counted in pulls_waiting
  uint64_t waiting_since_ns = 0;  // uv_hrtime() when the holding pass began
};

// The interactions a pair handed out (remembering who owns the client-supplied IDs).
InteractionList pulled_from(RequestContext& ctx, const PairAnswer& answer) {
  InteractionList list;
  const proto::EventPulled* pulled = answer.kind == PairAnswer::Kind::kReply ? answer.envelope()->body_as_EventPulled() : nullptr;
  if (!pulled || !pulled->interactions()) return list;
  for (const proto::InteractionInfo* info : *pulled->interactions()) {
    ctx.remember_owner(info, answer.pair);
    list.emplace_back(info->UnPack());
  }
  return list;
}

void reply_pulled(RequestContext& ctx, const Call& call, InteractionList interactions) {
  proto::EventPulledT pulled;
  pulled.interactions = std::move(interactions);
  ctx.replies.result(call, pulled);
}

void pull_next(RequestContext& ctx, std::shared_ptr<Pull> pull) {
  std::optional<PullPass::Ask> ask = pull->pass.next(ctx.now_ms());
  const bool waiting = ask && ask->hold_ms > 0;
  if (waiting != pull->waiting) {
    ctx.pulls_waiting.add(waiting ? 1 : -1);
    pull->waiting = waiting;
    // The time held goes to ix_proxy_pull_hold_seconds instead of the pull's latency.
    if (waiting) pull->waiting_since_ns = uv_hrtime();
    else pull->call.held_ns += uv_hrtime() - pull->waiting_since_ns;
  }
  if (!ask) {
    Result<InteractionList> result = pull->pass.result();
    if (!result) return ctx.replies.reply_error(pull->call, result.error());
    return reply_pulled(ctx, pull->call, std::move(*result));
  }
  proto::RequestPullT* body = pull->request.native().body.AsRequestPull();
  body->count = ask->count;
  body->hold_time_ms = ask->hold_ms;
  const PairIndex pair = ask->pair;
  ctx.calls.ask(pair, pull->request, pull->upstream_client, [&ctx, pull, pair](PairAnswer answer) {
    if (answer.kind == PairAnswer::Kind::kReply) {
      pull->pass.pulled(pulled_from(ctx, answer));
    } else if (answer.kind == PairAnswer::Kind::kRefused) {
      pull->pass.refused(Error{answer.error.code, "node pair " + pull->table->pair_id(pair) + " refused: " + answer.error.text});
    } else {
      spdlog::debug("event=pull_pair_skipped pair={} reason={}", pull->table->pair_id(pair), quote(answer.error.text));
    }
    pull_next(ctx, pull);
  }, ctx.settings.request_timeout_ms + ask->hold_ms);
}

std::string quoted_list(const std::vector<std::string>& values) {
  std::string out;
  for (const std::string& v : values) {
    std::string quoted;
    for (char c : v) quoted += c == '\'' ? std::string("''") : std::string(1, c);
    out += (out.empty() ? "'" : ", '") + quoted + "'";
  }
  return out;
}

void ordered_pull(RequestContext& ctx, std::shared_ptr<Pull> pull, const PairSet& order_of_pairs, uint32_t count,
                  const config::View& view) {
  proto::RequestFindT heads;
  heads.tenant_id = view.tenant;
  heads.condition = "state = 'Queued' AND queue IN (" + quoted_list(view.queues) + ")";
  if (!view.condition.empty()) heads.condition = "(" + view.condition + ") AND " + heads.condition;
  heads.order = view.order;
  heads.limit = count;
  auto order = query::Order::parse(view.order);
  if (!order) {
    return ctx.replies.reply_error(pull->call, wire::make_error(proto::ErrorCode::InvalidCondition, "view " + view.id + " order " + order.error().text));
  }
  ctx.calls.ask_all(order_of_pairs, Outgoing::of(std::move(heads)), 0, [&ctx, pull, count, order = *order](std::vector<PairAnswer> answers) {
    auto less = [&](const auto& a, const auto& b) { return order.less(a, b); };
    InteractionList next = merge_in_order(interaction_lists(answers, &proto::Envelope::body_as_EventFindResult), less, count);
    std::map<PairIndex, uint32_t> take;
    for (const auto& info : next) {
      if (std::optional<PairIndex> pair = pull->table->index_of(info->node_id)) ++take[*pair];
    }
    if (take.empty()) return pull_next(ctx, pull);  // nothing queued anywhere: wait as usual
    std::vector<std::pair<PairIndex, Outgoing>> pulls;
    for (auto [pair, n] : take) {
      proto::RequestPullT one = *pull->request.native().body.AsRequestPull();
      one.count = n;
      one.hold_time_ms = 0;
      pulls.emplace_back(pair, Outgoing::of(std::move(one)));
    }
    ctx.calls.ask_each(std::move(pulls), pull->upstream_client, [&ctx, pull, order](std::vector<PairAnswer> pulled) {
      std::vector<InteractionList> lists;
      for (const PairAnswer& answer : pulled) lists.push_back(pulled_from(ctx, answer));
      // Handed out in the view's order across pairs.
      reply_pulled(ctx, pull->call, merge_in_order(std::move(lists), [&](const auto& a, const auto& b) { return order.less(a, b); }, SIZE_MAX));
    }, ctx.settings.request_timeout_ms);
  });
}

}  // namespace

void handle_pull(RequestContext& ctx, const Call& call, const proto::Envelope& envelope, Outgoing request) {
  const proto::RequestPull* r = envelope.body_as_RequestPull();
  const std::string tenant = wire::str(r->tenant_id());
  if (tenant.empty()) return ctx.replies.reply_error(call, missing_attribute(call.type, "tenant_id"));
  if (r->count() == 0) {
    return ctx.replies.reply_error(call, wire::make_error(proto::ErrorCode::InvalidAttribute, "RequestPull.count must be at least 1"));
  }
  Result<PairSet> serving = tenant_pairs(*ctx.table, call.type, tenant);
  if (!serving) return ctx.replies.reply_error(call, serving.error());
  PairSet order = ctx.pull_planner.order(*serving, ctx.calls.reachable());
  if (order.empty()) {
    std::string reasons;
    for (PairIndex p : *serving) reasons += (reasons.empty() ? "" : "; ") + ctx.calls.unreachable_reason(p);
    return ctx.replies.reply_error(call, wire::make_error(proto::ErrorCode::ClusterLostConnection,
                                                          "no node pair serving tenant " + tenant + " can be reached: " + reasons));
  }
  ctx.fan_out_width.observe(static_cast<double>(order.size()));
  request.native();  // changed per pair (count, hold time)
  auto pull = std::make_shared<Pull>(call, std::move(request), ctx.upstream(call),
                                     PullPass(order, r->count(), r->hold_time_ms(), ctx.now_ms(), ctx.settings.pull_hold_timeout), ctx.table);
  const std::string view_id = wire::str(r->view_id());
  const auto& views = ctx.table->config().views;
  auto view = std::find_if(views.begin(), views.end(), [&](const config::View& v) { return v.id == view_id; });
  if (view != views.end() && view->ordered_pull) return ordered_pull(ctx, std::move(pull), order, r->count(), *view);
  pull_next(ctx, std::move(pull));
}

}  // namespace ix::proxy
