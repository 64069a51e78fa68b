#include "proxy/requests/agent_requests.h"

#include <spdlog/spdlog.h>

#include "protocol/log.h"
#include "proxy/requests/tenant_pairs.h"
#include "proxy/route/agent_fan_out.h"
#include "proxy/route/answer_severity.h"

namespace ix::proxy {

namespace {

using wire::str;

// The tenant and agent an agent request is about.
std::pair<std::string, std::string> agent_of(const proto::Envelope& e) {
  using M = proto::Message;
  switch (e.body_type()) {
    case M::RequestAgentLogin: return {str(e.body_as_RequestAgentLogin()->tenant_id()), str(e.body_as_RequestAgentLogin()->agent_id())};
    case M::RequestAgentLogout: return {str(e.body_as_RequestAgentLogout()->tenant_id()), str(e.body_as_RequestAgentLogout()->agent_id())};
    case M::RequestAgentReady: return {str(e.body_as_RequestAgentReady()->tenant_id()), str(e.body_as_RequestAgentReady()->agent_id())};
    case M::RequestAgentNotReady: return {str(e.body_as_RequestAgentNotReady()->tenant_id()), str(e.body_as_RequestAgentNotReady()->agent_id())};
    case M::RequestAgentDoNotDisturb:
      return {str(e.body_as_RequestAgentDoNotDisturb()->tenant_id()), str(e.body_as_RequestAgentDoNotDisturb()->agent_id())};
    case M::RequestAgentAddMedia: return {str(e.body_as_RequestAgentAddMedia()->tenant_id()), str(e.body_as_RequestAgentAddMedia()->agent_id())};
    case M::RequestAgentRemoveMedia:
      return {str(e.body_as_RequestAgentRemoveMedia()->tenant_id()), str(e.body_as_RequestAgentRemoveMedia()->agent_id())};
    case M::RequestAgentStatus: return {str(e.body_as_RequestAgentStatus()->tenant_id()), str(e.body_as_RequestAgentStatus()->agent_id())};
    case M::RequestWorkbinSubscribe: return {str(e.body_as_RequestWorkbinSubscribe()->tenant_id()), ""};
    default: return {};
  }
}

proto::RequestAgentLogoutT logout_request(const std::string& tenant, const std::string& agent) {
  proto::RequestAgentLogoutT logout;
  logout.tenant_id = tenant;
  logout.agent_id = agent;
  return logout;
}


constexpr const char* kRelogins = "ix_proxy_agent_relogins_total";
constexpr const char* kReloginsHelp = "Agent state restored on a pair's new primary, by step and result";

}  // namespace

AgentRequests::AgentRequests(RequestContext& ctx, metrics::Registry& metrics)
    : ctx_(ctx), metrics_(metrics), agents_gauge_(metrics.gauge("ix_proxy_agents", "Agents logged in through this proxy")) {
  metrics_.declare_counters(kRelogins, kReloginsHelp, {{"step", {"login", "ready", "do-not-disturb"}}, {"result", {"ok", "error"}}});
}

metrics::Counter& AgentRequests::relogins(const char* step, bool ok) {
  metrics::Counter*& counter = relogins_[{step, ok}];
  if (!counter) {
    counter = &metrics_.counter(kRelogins, kReloginsHelp, {{"step", step}, {"result", ok ? "ok" : "error"}});
  }
  return *counter;
}

void AgentRequests::handle(const Call& call, const proto::Envelope& envelope, Outgoing request) {
  auto [tenant, agent] = agent_of(envelope);
  Result<PairSet> serving = tenant_pairs(*ctx_.table, call.type, tenant);
  if (!serving) return ctx_.replies.reply_error(call, serving.error());
  if (agent.empty()) return ctx_.replies.reply_error(call, missing_attribute(call.type, "agent_id"));
  const PairSet& pairs = *serving;
  const AgentKey key{tenant, agent};
  std::vector<std::pair<PairIndex, Outgoing>> by_pair = agent_requests_by_pair(pairs, request);
  if (auto known = agents_.find(key); call.type != proto::Message::RequestAgentLogin && known != agents_.end() &&
                                      !known->second.login.agent_id.empty()) {
    // Not to the pairs where the agent is not logged in at all (it has none of their media).
    proto::EnvelopeT recorded;
    recorded.body.Set(proto::RequestAgentLoginT(known->second.login));
    std::erase_if(by_pair, [&](const auto& p) {
      return media_scope(ctx_.table->pair(p.first), recorded).kind == MediaScope::Kind::kSkip;
    });
  }
  if (by_pair.empty()) {
    return ctx_.replies.reply_error(call, wire::make_error(proto::ErrorCode::ClusterNoServerForMedia,
                                              wire::message_name(call.type) + ": no node pair serving tenant \"" + tenant + "\" serves its media"));
  }
  if (call.type == proto::Message::RequestAgentStatus) {
    PairSet asked;
    for (const auto& p : by_pair) asked.push_back(p.first);
    return handle_agent_status(call, request, asked);
  }
  if (!busy_agents_.insert(key).second) {
    return ctx_.replies.reply_error(call, wire::make_error(proto::ErrorCode::ClusterOperationInProgress,
                                              "an operation on agent " + agent + " is already in progress on the node pairs"));
  }
  const bool login = call.type == proto::Message::RequestAgentLogin;
  request.native();  // kept: the worker's record of the agent is updated from it
  const uint64_t client = ctx_.clients.upstream(call.session_id, call.client_id);
  ctx_.calls.ask_each(std::move(by_pair), client, [this, call, key, request, client, login](std::vector<PairAnswer> answers) mutable {
    busy_agents_.erase(key);
    FanOutOutcome outcome = decide_fan_out(*ctx_.table, answers);
    if (login && outcome.status) {
      AgentRecord& record = agents_[key];
      if (record.login.agent_id.empty()) agents_gauge_.add(1);
      for (auto& [pair, unsent] : unsent_logouts_) unsent.erase(key);  // this login is the one that counts
      record.session_id = call.session_id;
      record.client_id = call.client_id;
      record.login = *request.native().body.AsRequestAgentLogin();
    } else if (login) {
      // Logged in everywhere or nowhere: revoke the pairs that accepted.
      const Outgoing revoke = Outgoing::of(logout_request(key.tenant, key.agent));
      for (PairIndex pair : outcome.accepted) ctx_.calls.ask(pair, revoke, client, [](PairAnswer) {});
      spdlog::info("event=agent_login_revoked agent={} accepted={} failed={}", quote(key.agent),
                   quote(pair_names(*ctx_.table, outcome.accepted)), quote(pair_names(*ctx_.table, outcome.failed)));
    } else if (outcome.status || call.type == proto::Message::RequestAgentLogout) {
      apply_agent_change(key, request.native(), call);
    }
    if (call.type == proto::Message::RequestAgentLogout) {
      for (const PairAnswer& answer : answers) remember_unsent_logout(answer.pair, key, client, answer);
    }
    if (!outcome.status) return ctx_.replies.reply_error(call, outcome.status.error());
    ctx_.replies.ack(call);
  });
}

std::vector<std::pair<PairIndex, Outgoing>> AgentRequests::agent_requests_by_pair(const PairSet& pairs, Outgoing& request) {
  std::vector<std::pair<PairIndex, Outgoing>> by_pair;
  for (PairIndex pair : pairs) {
    const MediaScope scope = media_scope(ctx_.table->pair(pair), request.native());
    if (scope.kind == MediaScope::Kind::kSkip) continue;
    if (scope.kind == MediaScope::Kind::kUnchanged) {
      by_pair.emplace_back(pair, request);
      continue;
    }
    proto::RequestAgentLoginT narrowed(*request.native().body.AsRequestAgentLogin());
    std::erase_if(narrowed.media, [&](const auto& m) {
      return std::find(scope.login_media.begin(), scope.login_media.end(), m->media_type) == scope.login_media.end();
    });
    by_pair.emplace_back(pair, Outgoing::of(std::move(narrowed)));
  }
  return by_pair;
}

void AgentRequests::apply_agent_change(const AgentKey& key, const proto::EnvelopeT& request, const Call& call) {
  auto it = agents_.find(key);
  if (it == agents_.end() || it->second.login.agent_id.empty()) return;
  AgentRecord& agent = it->second;
  auto& media = agent.login.media;
  switch (call.type) {
    case proto::Message::RequestAgentLogout:
      agents_.erase(it);
      agents_gauge_.add(-1);
      return;
    case proto::Message::RequestAgentReady:
    case proto::Message::RequestAgentNotReady: {
      const bool ready = call.type == proto::Message::RequestAgentReady;
      const std::string& which = ready ? request.body.AsRequestAgentReady()->media_type : request.body.AsRequestAgentNotReady()->media_type;
      for (const auto& m : media) {
        if (!which.empty() && m->media_type != which) continue;
        if (ready) {
          agent.ready_media.insert(m->media_type);
        } else {
          agent.ready_media.erase(m->media_type);
        }
      }
      return;
    }
    case proto::Message::RequestAgentDoNotDisturb:
      agent.do_not_disturb = request.body.AsRequestAgentDoNotDisturb()->on;
      return;
    case proto::Message::RequestAgentAddMedia:
      if (const auto& added = request.body.AsRequestAgentAddMedia()->media) media.push_back(std::make_unique<proto::MediaCapacityT>(*added));
      return;
    case proto::Message::RequestAgentRemoveMedia: {
      const std::string& removed = request.body.AsRequestAgentRemoveMedia()->media_type;
      std::erase_if(media, [&](const auto& m) { return m->media_type == removed; });
      agent.ready_media.erase(removed);
      return;
    }
    default:
      return;
  }
}

void AgentRequests::handle_agent_status(const Call& call, const Outgoing& request, const PairSet& pairs) {
  ctx_.calls.ask_all(pairs, request, ctx_.clients.upstream(call.session_id, call.client_id), [this, call](std::vector<PairAnswer> answers) {
    // One status for the cluster: logged in only if logged in on every pair; per media, the
    // interactions the agent has on all pairs together.
    if (const PairAnswer* failed = deciding_failure(answers)) {
      return failed->kind == PairAnswer::Kind::kRefused ? ctx_.replies.answer(call, *failed) : ctx_.replies.reply_error(call, failed->error);
    }
    std::unique_ptr<proto::EventAgentStatusT> merged;
    for (const PairAnswer& a : answers) {
      const proto::EventAgentStatus* status = a.envelope()->body_as_EventAgentStatus();
      if (!status) continue;
      std::unique_ptr<proto::EventAgentStatusT> one(status->UnPack());
      if (!merged) {
        merged = std::move(one);
        continue;
      }
      merged->logged_in = merged->logged_in && one->logged_in;
      for (auto& media : merged->media) {
        for (const auto& other : one->media) {
          if (other->media_type == media->media_type) media->interactions += other->interactions;
        }
      }
    }
    if (!merged) return ctx_.replies.reply_error(call, wire::make_error(proto::ErrorCode::Internal, "no pair returned the agent's status"));
    ctx_.replies.result(call, *merged);
  });
}

void AgentRequests::handle_workbin_subscribe(const Call& call, const proto::Envelope& envelope, const Outgoing& request) {
  Result<PairSet> pairs = tenant_pairs(*ctx_.table, call.type, agent_of(envelope).first);
  if (!pairs) return ctx_.replies.reply_error(call, pairs.error());
  ctx_.calls.ask_all(*pairs, request, ctx_.clients.upstream(call.session_id, call.client_id), [this, call](std::vector<PairAnswer> answers) {
    FanOutOutcome outcome = decide_fan_out(*ctx_.table, answers);
    if (!outcome.status) return ctx_.replies.reply_error(call, outcome.status.error());
    ctx_.replies.ack(call);
  });
}

void AgentRequests::log_out_agents_of(uint64_t session_id) {
  for (auto it = agents_.begin(); it != agents_.end();) {
    const AgentRecord& agent = it->second;
    if (agent.session_id != session_id || agent.login.agent_id.empty()) {
      ++it;
      continue;
    }
    const Outgoing request = Outgoing::of(logout_request(it->first.tenant, it->first.agent));
    const uint64_t client = ctx_.clients.upstream(agent.session_id, agent.client_id);
    for (PairIndex pair : ctx_.table->pairs_for_tenant(it->first.tenant)) {
      ctx_.calls.ask(pair, request, client, [this, pair, key = it->first, client](PairAnswer answer) {
        remember_unsent_logout(pair, key, client, answer);
      });
    }
    spdlog::info("event=agent_logged_out_on_disconnect agent={} tenant={}", quote(it->first.agent), it->first.tenant);
    it = agents_.erase(it);
    agents_gauge_.add(-1);
  }
}

void AgentRequests::remember_unsent_logout(PairIndex pair, const AgentKey& key, uint64_t client, const PairAnswer& answer) {
  if (answer.kind != PairAnswer::Kind::kUnreachable) return;
  unsent_logouts_[pair][key] = client;
  spdlog::info("event=agent_logout_deferred pair={} agent={} reason={}", ctx_.table->pair_id(pair), quote(key.agent),
               quote(answer.error.text));
}

void AgentRequests::log_in_again(PairIndex pair) {
  // First the logouts the pair missed while it was away: its node may have held those agents for
  // this worker's reconnection.
  if (auto unsent = unsent_logouts_.extract(pair)) {
    for (const auto& [key, client] : unsent.mapped()) {
      auto again = agents_.find(key);
      if (again != agents_.end() && !again->second.login.agent_id.empty()) continue;  // logged in anew since
      ctx_.calls.ask(pair, Outgoing::of(logout_request(key.tenant, key.agent)), client,
                     [this, pair, key, client](PairAnswer answer) { remember_unsent_logout(pair, key, client, answer); });
      spdlog::info("event=agent_logout_resent pair={} agent={}", ctx_.table->pair_id(pair), quote(key.agent));
    }
  }
  for (const auto& [key, agent] : agents_) {
    if (agent.login.agent_id.empty() || !ctx_.table->pair(pair).serves_tenant(key.tenant)) continue;
    const uint64_t client = ctx_.clients.upstream(agent.session_id, agent.client_id);
    auto report = [this, pair, agent_id = key.agent](const char* step) {
      return [this, pair, agent_id, step](PairAnswer answer) {
        const bool ok = answer.kind == PairAnswer::Kind::kReply;
        relogins(step, ok).inc();
        if (!ok) {
          spdlog::warn("event=agent_relogin_failed pair={} agent={} step={} error={}", ctx_.table->pair_id(pair), quote(agent_id), step,
                       quote(answer.error.text));
        }
      };
    };
    // The node handles a connection's requests in order, so the state requests may follow the
    // login without waiting for its answer.
    Outgoing login = Outgoing::of(proto::RequestAgentLoginT(agent.login));
    std::vector<std::pair<PairIndex, Outgoing>> narrowed = agent_requests_by_pair({pair}, login);
    if (narrowed.empty()) continue;  // the pair serves none of the agent's media
    ctx_.calls.ask(pair, narrowed.front().second, client, report("login"));
    for (const std::string& media : agent.ready_media) {
      if (!ctx_.table->pair(pair).serves_media(media)) continue;
      proto::RequestAgentReadyT ready;
      ready.tenant_id = key.tenant;
      ready.agent_id = key.agent;
      ready.media_type = media;
      ctx_.calls.ask(pair, Outgoing::of(std::move(ready)), client, report("ready"));
    }
    if (agent.do_not_disturb) {
      proto::RequestAgentDoNotDisturbT dnd;
      dnd.tenant_id = key.tenant;
      dnd.agent_id = key.agent;
      dnd.on = true;
      ctx_.calls.ask(pair, Outgoing::of(std::move(dnd)), client, report("do-not-disturb"));
    }
    spdlog::info("event=agent_relogin pair={} agent={}", ctx_.table->pair_id(pair), quote(key.agent));
  }
}

}  // namespace ix::proxy
