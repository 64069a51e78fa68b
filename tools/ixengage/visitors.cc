#include "tools/ixengage/visitors.h"

namespace ix::engage {

namespace {
constexpr uint64_t kTickMs = 100;
}

Visitors::Visitors(uv_loop_t* loop, VisitorOptions options, ProactiveSubmitter& submitter)
    : loop_(loop), options_(options), submitter_(submitter), tick_timer_(loop), random_(options.seed) {}

void Visitors::start() {
  running_ = true;
  tick_timer_.start(kTickMs, [this] { tick(); });
}

void Visitors::stop() {
  running_ = false;
  tick_timer_.stop();
}

double Visitors::next_gap_ms() {
  std::exponential_distribution<double> gap(options_.lead_rate / 1000.0);
  return gap(random_);
}

Visitors::Target& Visitors::target(const TargetInfo& info) {
  auto [it, added] = targets_.try_emplace(info.id);
  if (added) {
    it->second.info = info;
    if (options_.lead_rate > 0) it->second.next_lead_ms = static_cast<double>(uv_now(loop_)) + next_gap_ms();
  }
  return it->second;
}

void Visitors::add_target(const TargetInfo& info) { target(info); }

void Visitors::decide(const TargetInfo& info, uint64_t allowed, double interval_s) {
  Target& t = target(info);
  const uint64_t now = uv_now(loop_);
  advance(t, now);
  t.decided = true;
  t.allowed = allowed;
  t.budget = allowed;
  t.interval_s = interval_s;
  t.decided_ms = now;
  invite(t, now);
}

uint64_t Visitors::pending(const std::string& id) const {
  auto it = targets_.find(id);
  return it == targets_.end() ? 0 : it->second.pending;
}

Visitors::Answered Visitors::answered(const std::string& id) const {
  auto it = targets_.find(id);
  if (it == targets_.end()) return {};
  const Target& t = it->second;
  return {t.accepted + t.expired, t.accepted, static_cast<double>(t.answer_delay_ms) / 1000};
}

void Visitors::tick() {
  const uint64_t now = uv_now(loop_);
  while (!due_.empty() && due_.begin()->first <= now) {
    Invitation invitation = std::move(due_.begin()->second);
    due_.erase(due_.begin());
    settle(invitation);
  }
  for (auto& [id, t] : targets_) {
    advance(t, now);
    invite(t, now);
  }
  if (running_) tick_timer_.start(kTickMs, [this] { tick(); });
}

void Visitors::advance(Target& t, uint64_t now) {
  if (options_.lead_rate > 0) {
    while (t.next_lead_ms <= static_cast<double>(now)) {
      t.waiting.push_back(static_cast<uint64_t>(t.next_lead_ms));
      ++t.leads;
      t.next_lead_ms += next_gap_ms();
    }
  }
  while (!t.waiting.empty() && t.waiting.front() + options_.lead_patience_ms <= now) {
    t.waiting.pop_front();
    ++t.left;
  }
  // A master that stopped posting leaves no standing permission behind.
  if (t.decided && static_cast<double>(now - t.decided_ms) > 3000.0 * t.interval_s) t.budget = 0;
}

void Visitors::invite(Target& t, uint64_t now) {
  std::bernoulli_distribution accepts(options_.accept_probability);
  std::uniform_int_distribution<uint64_t> delay(options_.accept_delay_min_ms, options_.accept_delay_max_ms);
  while (t.budget > 0 && !t.waiting.empty()) {
    t.waiting.pop_front();
    --t.budget;
    ++t.sent;
    ++t.pending;
    Invitation invitation{t.info.id, ++invitations_, false};
    uint64_t settles = options_.invitation_timeout_ms;
    if (accepts(random_)) {
      const uint64_t after = delay(random_);
      if (after < options_.invitation_timeout_ms) {
        invitation.accepts = true;
        settles = after;
      }
    }
    invitation.after_ms = settles;
    due_.emplace(now + settles, std::move(invitation));
  }
}

void Visitors::settle(const Invitation& invitation) {
  auto it = targets_.find(invitation.target);
  if (it == targets_.end()) return;
  Target& t = it->second;
  --t.pending;
  if (!invitation.accepts) {
    ++t.expired;
    return;
  }
  ++t.accepted;
  t.answer_delay_ms += invitation.after_ms;
  if (!submitter_.enabled()) return;  // run without proxies: acceptances are only counted
  ProactiveChat chat{t.info.tenant, t.info.media, t.info.virtual_queue, invitation.number};
  if (chat.tenant.empty()) {
    ++t.submit_failures;
    t.last_submit_error = "no tenant for this target (give --tenant or --config)";
    return;
  }
  submitter_.submit(chat, [this, id = t.info.id](Result<std::string> interaction) {
    auto later = targets_.find(id);
    if (later == targets_.end()) return;
    if (interaction) {
      ++later->second.submitted;
    } else {
      ++later->second.submit_failures;
      later->second.last_submit_error = interaction.error().text;
    }
  });
}

nlohmann::json Visitors::state() const {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [id, t] : targets_) {
    out[id] = {{"tenant", t.info.tenant},
               {"media", t.info.media},
               {"virtual_queue", t.info.virtual_queue},
               {"allowed", t.allowed},
               {"interval_seconds", t.interval_s},
               {"budget", t.budget},
               {"leads", t.leads},
               {"waiting", t.waiting.size()},
               {"left_uninvited", t.left},
               {"invitations_sent", t.sent},
               {"pending", t.pending},
               {"accepted", t.accepted},
               {"expired", t.expired},
               {"answer_delay_seconds", static_cast<double>(t.answer_delay_ms) / 1000},
               {"submitted", t.submitted},
               {"submit_failures", t.submit_failures},
               {"last_submit_error", t.last_submit_error}};
  }
  return out;
}

}  // namespace ix::engage
