#include "node/server/proxy_session_holds.h"

#include <spdlog/spdlog.h>

#include <vector>

#include "protocol/log.h"

namespace ix::node {

ProxySessionHolds::ProxySessionHolds(Clock& clock, NodeMetrics& metrics, Move move, Close close)
    : clock_(clock),
      metrics_(metrics),
      move_(std::move(move)),
      close_(std::move(close)),
      deadlines_(clock.make_deadlines([this](uint64_t id) {
        expire(id, "proxy did not reconnect within proxy-session-grace");
      })) {}

ProxySessionHolds::~ProxySessionHolds() { clear(); }

void ProxySessionHolds::hold(const ClientSession& closed, const ProxyIdentity& who, uint64_t grace_ms) {
  uint64_t id = 0;
  for (const auto& [held_id, h] : holds_) {
    if (h.who == who) id = held_id;
  }
  if (id == 0) {
    id = ++next_id_;
    Hold fresh;
    fresh.who = who;
    fresh.placeholder = std::make_unique<Placeholder>();
    fresh.since_us = clock_.now_us();
    holds_.emplace(id, std::move(fresh));
  }
  Hold& h = holds_.at(id);
  const HeldState moved = move_(closed, *h.placeholder);
  h.held.agents += moved.agents;
  h.held.locks += moved.locks;
  h.held.snapshots += moved.snapshots;
  deadlines_->start(id, grace_ms);
  metrics_.proxy_sessions("held").inc();
  spdlog::info("event=proxy_session_held proxy={} instance={} agents={} locks={} snapshots={} grace_ms={}", quote(who.name),
               quote(who.instance), h.held.agents, h.held.locks, h.held.snapshots, grace_ms);
}

bool ProxySessionHolds::reattach(const ClientSession& registered, const ProxyIdentity& who) {
  std::vector<uint64_t> restarted;
  bool reattached = false;
  for (auto it = holds_.begin(); it != holds_.end();) {
    Hold& h = it->second;
    if (h.who.name != who.name || h.who.certified != who.certified) {
      ++it;
      continue;
    }
    if (h.who.instance != who.instance) {
      restarted.push_back(it->first);
      ++it;
      continue;
    }
    deadlines_->cancel(it->first);
    const HeldState moved = move_(*h.placeholder, registered);
    metrics_.proxy_sessions("reattached").inc();
    spdlog::info("event=proxy_session_reattached proxy={} instance={} agents={} locks={} snapshots={} after_ms={}",
                 quote(who.name), quote(who.instance), moved.agents, moved.locks, moved.snapshots,
                 (clock_.now_us() - h.since_us) / 1000);
    it = holds_.erase(it);
    reattached = true;
  }
  // The same worker name from another process: the proxy restarted, and its agents' desktops
  // went with the process that logged them in. Nobody will take this hold over.
  for (uint64_t id : restarted) {
    deadlines_->cancel(id);
    expire(id, "proxy restarted (a new instance registered)");
  }
  return reattached;
}

void ProxySessionHolds::expire(uint64_t id, const std::string& why) {
  auto it = holds_.find(id);
  if (it == holds_.end()) return;
  // Out of the table before it is closed: the close commits, and nothing may find it again.
  Hold h = std::move(it->second);
  holds_.erase(it);
  metrics_.proxy_sessions("expired").inc();
  spdlog::warn("event=proxy_session_expired proxy={} instance={} agents={} locks={} snapshots={} held_ms={} reason={}",
               quote(h.who.name), quote(h.who.instance), h.held.agents, h.held.locks, h.held.snapshots,
               (clock_.now_us() - h.since_us) / 1000, quote(why));
  close_(*h.placeholder, why);
}

void ProxySessionHolds::clear() {
  deadlines_->clear();
  holds_.clear();
}

}  // namespace ix::node
