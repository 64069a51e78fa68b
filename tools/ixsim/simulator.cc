#include "tools/ixsim/simulator.h"

#include <cstdio>
#include <iostream>
#include <random>
#include <sstream>
#include <utility>

#include "protocol/wire/kv.h"

namespace ix::sim {

namespace {

using C = proto::ClientType;

const char* stage_name(int stage) {
  static const char* names[] = {"queued", "routing", "invited", "handling", "abandoning", "abandoned", "handled"};
  return names[stage];
}

}  // namespace

Simulator::Simulator(uv_loop_t* loop, SimOptions options)
    : loop_(loop),
      options_(std::move(options)),
      workload_(options_.workload),
      arrival_timer_(loop),
      summary_timer_(loop),
      end_timer_(loop),
      retry_timer_(loop),
      drain_timer_(loop),
      come_back_timer_(loop),
      patience_(loop, [this](uint64_t number) { abandon(number); }),
      handling_(loop, [this](uint64_t number) { finish_handling(number); }),
      submit_retries_(loop, [this](uint64_t number) {
        auto it = retrying_.find(number);
        if (it == retrying_.end()) return;
        auto [arrival, first_sent] = std::move(it->second);
        retrying_.erase(it);
        ++submit_retries_sent_;
        submit(arrival, first_sent);
      }) {
  std::random_device random;
  char token[20];
  std::snprintf(token, sizeof token, "%08x%08x", random(), random());
  run_token_ = token;
}

Simulator::~Simulator() {
  agents_.clear();
  routing_.session.reset();
  media_.session.reset();
}

uint64_t Simulator::now_ms() const { return uv_now(loop_); }

Simulator::Customer* Simulator::customer(uint64_t number) {
  auto it = customers_.find(number);
  return it == customers_.end() ? nullptr : &it->second;
}

void Simulator::start(std::function<void()> on_done) {
  on_done_ = std::move(on_done);
  media_.type = C::MediaServer;
  media_.name = "ixsim media server";
  routing_.type = C::RoutingEngine;
  routing_.name = "ixsim routing engine";
  routing_.home = routing_.server = 1;
  routing_.on_up = [this](std::function<void()> done) {
    pulling_.clear();  // pulls out on the lost connection were answered with its loss
    done();
    pull_everywhere();
  };
  peers_waiting_ = 2 + static_cast<int>(options_.agents.size());
  agents_.reserve(options_.agents.size());
  for (size_t i = 0; i < options_.agents.size(); ++i) {
    Agent& agent = agents_.emplace_back();
    agent.who = options_.agents[i];
    agent.link.type = C::AgentApplication;
    agent.link.name = "ixsim desktop " + agent.who.id;
    agent.link.home = agent.link.server = i;
    agent.link.on_event = [this, &agent](tools::Reply event) { on_agent_event(agent, std::move(event)); };
    agent.link.on_up = [this, &agent](std::function<void()> done) { log_in(agent, std::move(done)); };
    agent.link.on_down = [&agent] { agent.ready = false; };
  }
  connect(media_, [this] { peer_ready(); });
  connect(routing_, [this] { peer_ready(); });
  for (Agent& agent : agents_) connect(agent.link, [this] { peer_ready(); });
  if (options_.servers.size() > 1) come_back_timer_.start(kComeBackEveryMs, [this] { come_back(); });
}

void Simulator::come_back() {
  if (stopped_) return;
  const size_t n = options_.servers.size();
  for (Link* link : {&media_, &routing_}) {
    std::erase_if(link->retiring, [](const auto& old) {
      if (old->pending() > 0) return false;
      old->close();
      return true;
    });
    if (!link->up || link->server % n == link->home % n || link->probe) continue;
    tools::Session::Options o;
    o.endpoint = options_.servers[link->home % n];
    o.client_type = link->type;
    o.client_name = link->name;
    o.connect_timeout_ms = 1000;
    link->probe = std::make_unique<tools::Session>(loop_, o);
    link->probe->open([this, link](Result<tools::Reply> reply) {
      // Not from inside the probe's own callback: it is moved or dropped on the next turn.
      if (!link->reconnect) link->reconnect = std::make_unique<net::Timer>(loop_);
      const bool back = reply && !reply->error() && link->up && !stopped_;
      link->reconnect->start(0, [this, link, back] {
        std::unique_ptr<tools::Session> probe = std::move(link->probe);
        if (!back || !link->up || stopped_) return;
        std::cerr << (options_.live_line ? "\r\x1b[K" : "") << "ixsim: " << link->name << " is back on "
                  << probe->endpoint().to_string() << std::endl;
        link->session->set_on_closed(nullptr);
        link->retiring.push_back(std::move(link->session));
        link->session = std::move(probe);
        link->session->set_on_closed([this, link](const std::string& why) { link_lost(*link, why); });
        link->server = link->home;
        if (link == &routing_) pull_everywhere();
      });
    });
  }
  come_back_timer_.start(kComeBackEveryMs, [this] { come_back(); });
}

void Simulator::connect(Link& link, std::function<void()> first_time) {
  tools::Session::Options o;
  o.endpoint = options_.servers[link.server % options_.servers.size()];
  o.client_type = link.type;
  o.client_name = link.name;
  link.session = std::make_unique<tools::Session>(loop_, o);
  if (link.on_event) link.session->set_on_event(link.on_event);
  link.session->set_on_closed([this, &link](const std::string& reason) { link_lost(link, reason); });
  link.session->open([this, &link, first_time = std::move(first_time)](Result<tools::Reply> reply) mutable {
    if (stopped_) return;
    if (!reply || reply->error()) {
      const std::string why = reply ? link.session->endpoint().to_string() + " refused the registration: " + reply->error()->text
                                    : reply.error().text;
      if (reply) return fail(why);  // a proxy that refuses us will not change its mind
      if (link.down_since_ms == 0) link.down_since_ms = now_ms();
      if (now_ms() - link.down_since_ms >= kGiveUpMs) return fail(link.name + " reached no proxy for " + std::to_string(kGiveUpMs / 1000) + " s: " + why);
      ++link.server;  // the next proxy of the list
      if (!link.reconnect) link.reconnect = std::make_unique<net::Timer>(loop_);
      link.reconnect->start(kReconnectPauseMs, [this, &link, first_time = std::move(first_time)]() mutable {
        if (!stopped_) connect(link, std::move(first_time));
      });
      return;
    }
    auto up = [this, &link, first_time = std::move(first_time)]() mutable {
      link.up = true;
      link.down_since_ms = 0;
      if (first_time) std::exchange(first_time, nullptr)();
    };
    if (link.on_up) link.on_up(std::move(up));
    else up();
  });
}

void Simulator::link_lost(Link& link, const std::string& reason) {
  if (stopped_) return;
  ++reconnects_;
  link.up = false;
  link.down_since_ms = now_ms();
  if (link.on_down) link.on_down();
  std::cerr << (options_.live_line ? "\r\x1b[K" : "") << "ixsim: " << link.name << " lost " << link.session->endpoint().to_string()
            << " (" << reason << "); reconnecting through the next proxy" << std::endl;
  ++link.server;
  link.probe.reset();  // a move back in preparation is moot
  // Not from inside the session's own callback: the session is replaced.
  if (!link.reconnect) link.reconnect = std::make_unique<net::Timer>(loop_);
  link.reconnect->start(kReconnectPauseMs, [this, &link] {
    if (!stopped_) connect(link, nullptr);
  });
}

void Simulator::log_in(Agent& agent, std::function<void()> done) {
  proto::RequestAgentLoginT login;
  login.tenant_id = agent.who.tenant;
  login.agent_id = agent.who.id;
  login.place_id = agent.who.place;
  for (const auto& [media, capacity] : options_.capacity) {
    auto m = std::make_unique<proto::MediaCapacityT>();
    m->media_type = media;
    m->capacity = capacity;
    login.media.push_back(std::move(m));
  }
  agent.link.session->request(login, [this, &agent, done = std::move(done)](Result<tools::Reply> reply) mutable {
    if (!reply) return;  // the connection went again: link_lost reconnects
    if (reply->error()) return fail("agent " + agent.who.id + " cannot log in: " + reply->error()->text);
    proto::RequestAgentReadyT ready;
    ready.tenant_id = agent.who.tenant;
    ready.agent_id = agent.who.id;
    agent.link.session->request(ready, [this, &agent, done = std::move(done)](Result<tools::Reply> r) mutable {
      if (!r) return;
      if (r->error()) return fail("agent " + agent.who.id + " cannot go ready: " + r->error()->text);
      adopt_leftovers(agent, [this, &agent, done = std::move(done)] {
        agent.ready = true;
        done();
        pull_everywhere();
      });
    });
  });
}

void Simulator::peer_ready() {
  if (--peers_waiting_ > 0 || stopped_) return;
  running_ = true;
  started_ms_ = now_ms();
  last_summary_ms_ = started_ms_;
  next_ = workload_.next();
  schedule_arrival();
  pull_everywhere();
  summary_timer_.start(static_cast<uint64_t>(options_.summary_every_s * 1000), [this] { summary(); });
  if (options_.duration_s > 0) end_timer_.start(static_cast<uint64_t>(options_.duration_s * 1000), [this] { stop(); });
}

void Simulator::schedule_arrival() {
  const uint64_t elapsed = now_ms() - started_ms_;
  arrival_timer_.start(next_.at_ms > elapsed ? next_.at_ms - elapsed : 0, [this] {
    submit(next_, now_ms());
    next_ = workload_.next();
    schedule_arrival();
  });
}

void Simulator::submit(const Arrival& arrival, uint64_t first_sent_ms) {
  proto::RequestSubmitT r;
  r.request_id = "ixsim-" + run_token_ + "-" + std::to_string(arrival.number);
  r.tenant_id = arrival.tenant;
  r.media_type = arrival.flow->media;
  r.queue = arrival.proactive && !workload_.options().proactive_queue.empty() ? workload_.options().proactive_queue
                                                                            : arrival.flow->queue;
  r.interaction_type = arrival.proactive ? "Outbound" : "Inbound";
  r.interaction_subtype = arrival.proactive ? "Proactive" : "";
  r.priority = arrival.priority;
  r.user_data = wire::kv_list({{"ixsim-customer", static_cast<int64_t>(arrival.number)}, {"proactive", arrival.proactive ? 1 : 0}});
  // A proactive interaction carries its pacing target's virtual queue, as the engagement
  // service sets it when it creates the interaction.
  if (const SimPacingTarget* target = arrival.proactive ? pacing_target(r.tenant_id, r.media_type) : nullptr) {
    wire::kv_set(*r.user_data, {options_.virtual_queue_key, target->virtual_queue});
  }
  send(*media_.session, r, [this, arrival, first_sent_ms, queue = r.queue](Result<tools::Reply> reply) {
    const bool maybe_applied = !reply || (reply->error() && reply->error()->code == static_cast<int>(proto::ErrorCode::ClusterLostConnection));
    if (!reply || reply->error()) {
      // It may have been applied all the same: the same request_id again, never a second one.
      if (maybe_applied && !draining_ && !stopped_ && now_ms() - first_sent_ms < kSubmitRetryMs) {
        retrying_[arrival.number] = {arrival, first_sent_ms};
        submit_retries_.start(arrival.number, kSubmitRetryPauseMs);
        return;
      }
      return count_error(reply);
    }
    const proto::EventSubmittedT* submitted = reply->envelope->body.AsEventSubmitted();
    if (submitted->repeated) ++repeated_;
    Customer c{arrival, submitted->interaction_id, queue, Stage::kQueued, now_ms(), "", arrival.flow->media, 0};
    by_id_[c.id] = arrival.number;
    customers_.emplace(arrival.number, std::move(c));
    ++submitted_;
    if (arrival.proactive) ++proactive_;
    patience_.start(arrival.number, arrival.patience_ms);
    pull_everywhere();
  });
}

void Simulator::abandon(uint64_t number) {
  Customer* c = customer(number);
  if (c == nullptr || c->stage != Stage::kQueued || draining_) return;
  c->stage = Stage::kAbandoning;
  proto::RequestStopProcessingT stop;
  stop.interaction_id = c->id;
  stop.reason = wire::kv_list({{"reason", "abandoned"}});
  send(*media_.session, stop, [this, number](Result<tools::Reply> reply) {
    Customer* later = customer(number);
    if (later == nullptr) return;
    if (reply && !reply->error()) {
      later->stage = Stage::kAbandoned;
      ++abandoned_;
      return;
    }
    // The routing engine took it in the meantime: the customer is being served after all.
    if (later->stage == Stage::kAbandoning) later->stage = Stage::kQueued;
    if (reply && reply->error()->code != static_cast<int>(proto::ErrorCode::UnknownInteraction)) count_error(reply);
  });
}

void Simulator::pull_everywhere() {
  if (!running_ || draining_) return;
  for (const std::string& tenant : workload_.options().tenants) {
    for (const Flow& flow : workload_.options().flows) pull(tenant, flow.view);
  }
}

void Simulator::pull(const std::string& tenant, const std::string& view) {
  const auto key = std::pair{tenant, view};
  if (pulling_[key] || draining_ || !routing_.up) return;
  // Pull only what ready agents can take now, for any media this view serves.
  int free = 0;
  for (const Flow& flow : workload_.options().flows) {
    if (flow.view != view) continue;
    for (Agent& a : agents_) {
      if (a.ready && a.who.tenant == tenant) free += std::max(0, options_.capacity[flow.media] - a.busy[flow.media]);
    }
  }
  if (free == 0) return;
  pulling_[key] = true;
  proto::RequestPullT r;
  r.tenant_id = tenant;
  r.view_id = view;
  r.count = static_cast<uint32_t>(std::min(free, 10));
  r.hold_time_ms = 1000;
  send(*routing_.session, r, [this, key](Result<tools::Reply> reply) {
    pulling_[key] = false;
    if (stopped_) return;
    if (!reply || reply->error()) {
      count_error(reply);
      // Do not hammer a cluster that refuses: try again in a second.
      if (!retry_timer_.active()) retry_timer_.start(1000, [this] { pull_everywhere(); });
      return;
    }
    auto& pulled = reply->envelope->body.AsEventPulled()->interactions;
    for (auto& interaction : pulled) route(std::move(interaction), key.first);
    pull(key.first, key.second);
  });
}

void Simulator::route(std::unique_ptr<proto::InteractionInfoT> interaction, const std::string& tenant) {
  auto known = by_id_.find(interaction->interaction_id);
  Customer* c = known == by_id_.end() ? nullptr : customer(known->second);
  // A customer who is hanging up right now is not routed: the stop is on its way.
  if (c != nullptr && (c->stage == Stage::kAbandoning || c->stage == Stage::kAbandoned)) return;
  if (c != nullptr) {
    set_stage(*c, Stage::kRouting);
    patience_.cancel(c->arrival.number);
  }
  const std::string media = interaction->media_type;
  const SimPacingTarget* target = pacing_target_of(*interaction);
  Agent* agent = free_agent(tenant, media, target ? &target->agents : nullptr);
  auto back_to_queue = [this, id = interaction->interaction_id, queue = interaction->queue](uint64_t number) {
    // Nobody can take it after all: put it back where it was, as a real routing engine would.
    proto::RequestPlaceInQueueT back;
    back.interaction_id = id;
    back.queue = queue;
    send(*routing_.session, back, [this, number](Result<tools::Reply> reply) {
      if (Customer* later = customer(number); later != nullptr && later->stage == Stage::kRouting) {
        later->stage = Stage::kQueued;
        const uint64_t gives_up = later->submitted_ms + later->arrival.patience_ms;
        patience_.start(number, gives_up > now_ms() ? gives_up - now_ms() : 0);
      }
      if (!reply || reply->error()) count_error(reply);
    });
  };
  const uint64_t number = c ? c->arrival.number : 0;
  if (agent == nullptr) return back_to_queue(number);
  ++agent->busy[media];
  proto::RequestDeliverT deliver;
  deliver.interaction_id = interaction->interaction_id;
  deliver.agent_id = agent->who.id;
  deliver.place_id = agent->who.place;
  send(*routing_.session, deliver, [this, number, agent_id = agent->who.id, media, back_to_queue](Result<tools::Reply> reply) {
    Customer* later = customer(number);
    if (!reply || reply->error()) {
      // The agent cannot take it (the node knows better, e.g. its capacity is used up): treat
      // the agent as full for this media until one of its interactions ends, and pull again
      // only after a pause, so that a disagreement never turns into a storm of retries.
      for (Agent& a : agents_) {
        if (a.who.id == agent_id) a.busy[media] = options_.capacity[media];
      }
      if (!retry_timer_.active()) retry_timer_.start(1000, [this] { pull_everywhere(); });
      // A customer who hung up while being routed is gone; anything else goes back to its queue.
      if (later != nullptr && (later->stage == Stage::kAbandoned || later->stage == Stage::kAbandoning)) return;
      count_error(reply);
      return back_to_queue(number);
    }
    ++delivered_;
    // The agent's accept (through its own proxy) may have come first: only an interaction still
    // being routed becomes invited.
    if (later != nullptr && later->stage == Stage::kRouting) {
      set_stage(*later, Stage::kInvited);
      later->agent = agent_id;
    }
  });
}

const SimPacingTarget* Simulator::pacing_target(const std::string& tenant, const std::string& media) const {
  for (const SimPacingTarget& t : options_.pacing_targets) {
    if (t.tenant == tenant && t.media == media) return &t;
  }
  return nullptr;
}

const SimPacingTarget* Simulator::pacing_target_of(const proto::InteractionInfoT& interaction) const {
  if (!interaction.user_data) return nullptr;
  for (const auto& pair : interaction.user_data->pairs) {
    if (pair->key != options_.virtual_queue_key) continue;
    for (const SimPacingTarget& t : options_.pacing_targets) {
      if (t.tenant == interaction.tenant_id && t.media == interaction.media_type && t.virtual_queue == pair->string_value) {
        return &t;
      }
    }
  }
  return nullptr;
}

Simulator::Agent* Simulator::free_agent(const std::string& tenant, const std::string& media, const std::set<std::string>* allowed) {
  // The ready agent with the most free capacity for this media (ties: the first listed).
  Agent* best = nullptr;
  int best_free = 0;
  for (Agent& a : agents_) {
    if (!a.ready || a.who.tenant != tenant) continue;
    if (allowed != nullptr && !allowed->count(a.who.id)) continue;
    const int free = options_.capacity[media] - a.busy[media];
    if (free > best_free) {
      best = &a;
      best_free = free;
    }
  }
  return best;
}

void Simulator::on_agent_event(Agent& agent, tools::Reply event) {
  const proto::EnvelopeT& e = *event.envelope;
  if (const proto::EventInviteT* invite = e.body.AsEventInvite()) {
    const std::string id = invite->interaction->interaction_id;
    const std::string media = invite->interaction->media_type;
    proto::RequestAcceptT accept;
    accept.interaction_id = id;
    accept.agent_id = agent.who.id;
    accept.ticket_id = invite->ticket_id;
    send(*agent.link.session, accept, [this, id, media, agent_id = agent.who.id](Result<tools::Reply> reply) {
      auto known = by_id_.find(id);
      Customer* c = known == by_id_.end() ? nullptr : customer(known->second);
      if (!reply || reply->error()) {
        count_error(reply);
        return release(agent_id, media, false);
      }
      if (c == nullptr) c = &adopt(id, agent_id, media);  // left over from an earlier run
      if (c->stage == Stage::kHandling) return;  // already counted (an accept answered twice)
      set_stage(*c, Stage::kHandling);
      c->agent = agent_id;
      wait_total_ms_ += now_ms() - c->submitted_ms;
      ++waits_;
      handling_.start(c->arrival.number, c->arrival.handle_ms);
    });
  } else if (const proto::EventRevokedT* revoked = e.body.AsEventRevoked()) {
    ++revoked_;
    auto known = by_id_.find(revoked->interaction_id);
    Customer* c = known == by_id_.end() ? nullptr : customer(known->second);
    // Only what this agent still has: a late revocation of an interaction handled since (or
    // given to another agent) changes nothing.
    if (c != nullptr && c->agent == agent.who.id && (c->stage == Stage::kInvited || c->stage == Stage::kHandling)) {
      release(agent.who.id, c->media);
      handling_.cancel(c->arrival.number);
      set_stage(*c, Stage::kQueued);  // the node put it back in its queue
      c->agent.clear();
    }
  }
}

void Simulator::finish_handling(uint64_t number) {
  Customer* c = customer(number);
  if (c == nullptr || c->stage != Stage::kHandling || draining_) return;
  auto agent = std::find_if(agents_.begin(), agents_.end(), [&](const Agent& a) { return a.who.id == c->agent; });
  if (agent == agents_.end()) return;
  proto::RequestStopProcessingT stop;
  stop.interaction_id = c->id;
  stop.agent_id = c->agent;
  stop.reason = wire::kv_list({{"reason", "done"}});
  send(*agent->link.session, stop, [this, number](Result<tools::Reply> reply) {
    Customer* later = customer(number);
    if (later == nullptr || later->stage != Stage::kHandling) return;
    const int code = reply && reply->error() ? reply->error()->code : 0;
    if (!reply || code == static_cast<int>(proto::ErrorCode::ClusterLostConnection) ||
        code == static_cast<int>(proto::ErrorCode::ClusterInteractionNotAccessible)) {
      // The desktop's proxy or the interaction's pair is away for a moment: stop it again soon.
      if (!draining_) handling_.start(number, 1000);
      return;
    }
    if (reply->error()) return count_error(reply);
    set_stage(*later, Stage::kHandled);
    ++handled_;
    release(later->agent, later->media);
  });
}

void Simulator::release(const std::string& agent_id, const std::string& media, bool pull_now) {
  for (Agent& a : agents_) {
    if (a.who.id == agent_id && a.busy[media] > 0) --a.busy[media];
  }
  if (pull_now) pull_everywhere();
}

void Simulator::adopt_leftovers(Agent& agent, std::function<void()> then) {
  // Interactions this agent still has from an earlier run (its desktop went away without
  // stopping them) take its capacity on the nodes: count them, and finish them like any other.
  // After a reconnect the same look-up says which of this run's are still the agent's.
  proto::RequestFindT find;
  find.tenant_id = agent.who.tenant;
  find.condition = "agent_id = '" + agent.who.id + "'";
  find.limit = 1000;
  agent.link.session->request(find, [this, &agent, then = std::move(then)](Result<tools::Reply> reply) {
    if (!reply) return;  // the connection went again: link_lost reconnects
    if (reply->error()) return fail("cannot look up agent " + agent.who.id + "'s interactions: " + reply->error()->text);
    std::set<std::string> has;
    agent.busy.clear();
    for (const auto& i : reply->envelope->body.AsEventFindResult()->interactions) {
      has.insert(i->interaction_id);
      ++agent.busy[i->media_type];
      if (by_id_.contains(i->interaction_id)) continue;  // one of this run's: it keeps its stage
      const Customer& c = adopt(i->interaction_id, agent.who.id, i->media_type);
      handling_.start(c.arrival.number, c.arrival.handle_ms);
    }
    for (auto& [number, c] : customers_) {
      if (c.agent != agent.who.id || has.contains(c.id)) continue;
      if (c.stage != Stage::kInvited && c.stage != Stage::kHandling) continue;
      // Revoked while the desktop was away (its logout): back in its queue.
      handling_.cancel(number);
      set_stage(c, Stage::kQueued);
      c.agent.clear();
    }
    then();
  });
}

Simulator::Customer& Simulator::adopt(const std::string& id, const std::string& agent, const std::string& media) {
  // Not one of ours: no arrival of this run stands behind it, so it is handled for the mean time.
  Arrival a;
  a.number = (1ull << 62) + adopted_++;
  a.handle_ms = static_cast<uint64_t>(workload_.options().handle_s * 1000);
  by_id_[id] = a.number;
  return customers_.emplace(a.number, Customer{a, id, "", Stage::kHandling, now_ms(), agent, media, now_ms()}).first->second;
}

void Simulator::set_stage(Customer& c, Stage stage) {
  c.stage = stage;
  c.stage_since_ms = now_ms();
}

std::vector<std::string> Simulator::overdue() const {
  std::vector<std::string> out;
  const uint64_t now = now_ms();
  for (const auto& [number, c] : customers_) {
    const uint64_t allowed = c.stage == Stage::kInvited    ? kOverdueSlackMs
                             : c.stage == Stage::kHandling ? c.arrival.handle_ms + kOverdueSlackMs
                                                           : UINT64_MAX;
    if (allowed != UINT64_MAX && now - c.stage_since_ms > allowed) out.push_back(c.id);
  }
  return out;
}

void Simulator::count_error(const Result<tools::Reply>& reply) {
  if (stopped_) return;  // requests cut short by our own closing are no error of the cluster
  Errors& e = errors_[reply ? reply->error()->code : 0];
  ++e.count;
  e.last_text = reply ? reply->error()->text : reply.error().text;
}

void Simulator::summary() {
  const uint64_t now = now_ms();
  const double interval_s = static_cast<double>(now - last_summary_ms_) / 1000.0;
  const double rate = interval_s > 0 ? static_cast<double>(submitted_ - last_submitted_) / interval_s : 0;
  last_submitted_ = submitted_;
  last_summary_ms_ = now;
  std::map<std::string, int> depth;
  int routing = 0, with_agents = 0;
  for (const auto& [number, c] : customers_) {
    if (c.stage == Stage::kQueued) ++depth[c.queue];
    if (c.stage == Stage::kRouting) ++routing;
    if (c.stage == Stage::kInvited || c.stage == Stage::kHandling) ++with_agents;
  }
  int busy_agents = 0;
  for (const Agent& a : agents_) {
    int busy = 0;
    for (const auto& [media, n] : a.busy) busy += n;
    busy_agents += busy > 0;
  }
  const uint64_t ended = handled_ + abandoned_;
  char line[512];
  std::string queues;
  for (const auto& [queue, n] : depth) queues += " " + queue + "=" + std::to_string(n);
  std::snprintf(line, sizeof line,
                "[%4.0fs] in %5.1f/s  queued%s  routing %d  with agents %d  handled %llu  abandoned %llu (%.1f%%)  "
                "agents busy %d/%zu  errors %llu",
                static_cast<double>(now - started_ms_) / 1000.0, rate, queues.empty() ? " 0" : queues.c_str(), routing,
                with_agents, static_cast<unsigned long long>(handled_), static_cast<unsigned long long>(abandoned_),
                ended ? 100.0 * static_cast<double>(abandoned_) / static_cast<double>(ended) : 0.0, busy_agents, agents_.size(),
                static_cast<unsigned long long>([this] {
                  uint64_t n = 0;
                  for (const auto& [code, e] : errors_) n += e.count;
                  return n;
                }()));
  if (options_.live_line) std::cerr << "\r\x1b[K" << line << std::flush;
  else std::cerr << line << std::endl;
  summary_timer_.start(static_cast<uint64_t>(options_.summary_every_s * 1000), [this] { summary(); });
}

void Simulator::fail(const std::string& why) {
  if (stopped_) return;
  failure_ = why;
  finish();
}

void Simulator::stop() {
  if (stopped_) return;
  if (draining_) return finish();  // asked twice (a second Ctrl-C): do not wait for the drain
  // No new work; what is in flight is answered first, so that every interaction ends up where
  // the report says it is (a pull answered after we left would strand its interactions).
  draining_ = true;
  arrival_timer_.stop();
  end_timer_.stop();
  retry_timer_.stop();
  if (!running_ || in_flight_ == 0) return finish();
  drain_timer_.start(3000, [this] { finish(); });
}

void Simulator::finish() {
  if (stopped_) return;
  if (running_) summary();
  stopped_ = true;
  if (options_.live_line) std::cerr << "\n";
  arrival_timer_.stop();
  summary_timer_.stop();
  end_timer_.stop();
  retry_timer_.stop();
  drain_timer_.stop();
  come_back_timer_.stop();
  // Closing the desktops logs the agents out (their interactions stay with the cluster).
  for (Agent& a : agents_) {
    if (a.link.reconnect) a.link.reconnect->stop();
    if (a.link.session) a.link.session->close();
  }
  for (Link* link : {&routing_, &media_}) {
    if (link->reconnect) link->reconnect->stop();
    if (link->session) link->session->close();
    if (link->probe) link->probe->close();
    for (auto& old : link->retiring) old->close();
  }
  submit_retries_.clear();
  if (on_done_) on_done_();
}

nlohmann::json Simulator::report() const {
  nlohmann::json by_stage = nlohmann::json::object();
  for (int stage = 0; stage <= static_cast<int>(Stage::kHandled); ++stage) by_stage[stage_name(stage)] = nlohmann::json::array();
  for (const auto& [number, c] : customers_) by_stage[stage_name(static_cast<int>(c.stage))].push_back(c.id);
  nlohmann::json errors = nlohmann::json::object();
  for (const auto& [code, e] : errors_) {
    errors[code == 0 ? "no answer" : std::to_string(code)] = {{"count", e.count}, {"last", e.last_text}};
  }
  const uint64_t ended = handled_ + abandoned_;
  const auto& w = workload_.options();
  return {{"seed", w.seed},
          {"profile", profile_name(w.profile)},
          {"rate", w.rate},
          {"duration_s", running_ ? static_cast<double>(now_ms() - started_ms_) / 1000.0 : 0.0},
          {"submitted", submitted_},
          {"proactive", proactive_},
          {"delivered", delivered_},
          {"handled", handled_},
          {"abandoned", abandoned_},
          {"abandon_rate", ended ? static_cast<double>(abandoned_) / static_cast<double>(ended) : 0.0},
          {"revoked", revoked_},
          {"adopted", adopted_},
          {"reconnects", reconnects_},
          {"submit_retries", submit_retries_sent_},
          {"repeated_submits", repeated_},
          {"overdue", overdue()},
          {"mean_wait_ms", waits_ ? wait_total_ms_ / waits_ : 0},
          {"errors", errors},
          {"interactions", by_stage},
          {"failure", failure_}};
}

std::string Simulator::report_text() const {
  const nlohmann::json r = report();
  std::ostringstream out;
  out << "ixsim report (seed " << r["seed"] << ", " << r["profile"].get<std::string>() << " profile at " << r["rate"]
      << "/s, " << r["duration_s"] << " s)\n"
      << "  submitted   " << r["submitted"] << " (" << r["proactive"] << " proactive)\n"
      << "  delivered   " << r["delivered"] << ", handled " << r["handled"] << ", mean wait " << r["mean_wait_ms"] << " ms\n"
      << "  abandoned   " << r["abandoned"] << " (" << std::to_string(100.0 * r["abandon_rate"].get<double>()).substr(0, 4)
      << " % of the ended)\n"
      << "  revoked     " << r["revoked"] << ", adopted from an earlier run " << r["adopted"] << "\n"
      << "  reconnects  " << r["reconnects"] << ", submits retried " << r["submit_retries"] << " (" << r["repeated_submits"]
      << " answered with the original)\n"
      << "  overdue     " << r["overdue"].size() << " with an agent longer than their handling time allows\n"
      << "  left in the cluster: " << r["interactions"]["queued"].size() << " queued, "
      << r["interactions"]["routing"].size() << " being routed, "
      << r["interactions"]["invited"].size() + r["interactions"]["handling"].size() << " with agents\n"
      << "  errors      " << (r["errors"].empty() ? "none" : r["errors"].dump()) << "\n";
  if (!failure_.empty()) out << "  FAILED: " << failure_ << "\n";
  return out.str();
}

}  // namespace ix::sim
