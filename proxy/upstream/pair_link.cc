#include "proxy/upstream/pair_link.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <vector>

#include "protocol/log.h"

namespace ix::proxy {

namespace {

std::string describe(const config::ServerEndpoint& e) { return e.host + ":" + std::to_string(e.port); }

}  // namespace

PairLink::PairLink(uv_loop_t* loop, const config::NodePair& pair, const NodeLinkOptions& options)
    : loop_(loop),
      id_(pair.id),
      request_timeout_ms_(options.request_timeout_ms),
      hand_over_hold_ms_(std::max<uint64_t>(1000, static_cast<uint64_t>(pair.settings.lease_timeout.count()))),
      hold_timer_(loop) {
  const config::ServerEndpoint* endpoints[2] = {&pair.primary, &pair.backup};
  const char* names[2] = {"primary", "backup"};
  // What the pair's nodes accept: a request re-addressed past it fails alone (NodeLink::send).
  NodeLinkOptions node_options = options;
  if (pair.settings.max_frame_size) node_options.node_max_frame_size = pair.settings.max_frame_size;
  for (int i = 0; i < 2; ++i) {
    nodes_[i] = std::make_unique<NodeLink>(loop, pair.id + " " + names[i] + " (" + describe(*endpoints[i]) + ")",
                                           net::Endpoint{endpoints[i]->host, endpoints[i]->port}, node_options);
    nodes_[i]->set_on_role([this, i](NodeRole role) {
      const NodeRole was = roles_[i];
      roles_[i] = role;
      on_role_change(i, was);
    });
  }
}

void PairLink::start() {
  for (auto& node : nodes_) node->start();
}

void PairLink::stop(const std::string& why) {
  on_serving_ = nullptr;
  on_node_state_ = nullptr;
  for (auto& node : nodes_) {
    node->set_on_event(nullptr);
    node->stop(why);
  }
  // What is held is answered with 2002 on the next loop turn, like the nodes' requests in flight.
  hand_over_until_ms_ = 0;
  stop_why_ = why;
  if (!held_.empty()) hold_timer_.start(0, [this] { expire_held(true); });
}

void PairLink::set_on_event(const NodeLink::EventCallback& cb) {
  for (auto& node : nodes_) node->set_on_event(cb);
}

void PairLink::set_request_timeout(uint64_t ms) {
  request_timeout_ms_ = ms;
  for (auto& node : nodes_) node->set_request_timeout(ms);
}

bool PairLink::send(const Outgoing& request, uint64_t upstream_client, NodeLink::ReplyCallback on_reply, uint64_t timeout_ms) {
  if (NodeLink* node = primary()) {
    return node->send(request, upstream_client, std::move(on_reply), timeout_ms);
  }
  if (!handing_over()) return false;
  const uint64_t now = uv_now(loop_);
  Held held{request, upstream_client, std::move(on_reply),
            std::min(hand_over_until_ms_, now + (timeout_ms ? timeout_ms : request_timeout_ms_))};
  held.request.keep();
  held_.push_back(std::move(held));
  arm_hold_timer();
  return true;
}

void PairLink::arm_hold_timer() {
  if (held_.empty() && !handing_over()) return hold_timer_.stop();
  uint64_t next = hand_over_until_ms_ ? hand_over_until_ms_ : UINT64_MAX;
  for (const Held& h : held_) next = std::min(next, h.deadline_ms);
  const uint64_t now = uv_now(loop_);
  hold_timer_.start(next > now ? next - now : 0, [this] { expire_held(false); });
}

void PairLink::expire_held(bool all) {
  const uint64_t now = uv_now(loop_);
  if (hand_over_until_ms_ != 0 && now >= hand_over_until_ms_) {
    spdlog::warn("event=pair_hand_over_timed_out pair={} held={} hold_ms={}", id_, held_.size(), hand_over_hold_ms_);
    hand_over_until_ms_ = 0;
  }
  // Callbacks may send again (to this pair too): take the expired ones out first.
  std::vector<Held> expired;
  for (auto it = held_.begin(); it != held_.end();) {
    if (all || it->deadline_ms <= now || !handing_over()) {
      expired.push_back(std::move(*it));
      it = held_.erase(it);
    } else {
      ++it;
    }
  }
  const std::string why = all ? (stop_why_.empty() ? "the proxy is closing its connections to node pair " + id_ : stop_why_)
                              : unreachable_reason() + "; it was handing over to its backup, which did not take over in time";
  for (Held& h : expired) {
    UpstreamReply reply;
    reply.error = wire::make_error(proto::ErrorCode::ClusterLostConnection, why);
    h.on_reply(reply);
  }
  if (!all) arm_hold_timer();
}

void PairLink::release_held(NodeLink& to) {
  std::deque<Held> held = std::move(held_);
  held_.clear();
  const uint64_t now = uv_now(loop_);
  for (Held& h : held) {
    const uint64_t left = h.deadline_ms > now ? h.deadline_ms - now : 1;
    // The deadline left is the request's own: the hand-over's bound no longer applies once sent.
    if (to.send(h.request, h.upstream_client, h.on_reply, left)) continue;
    UpstreamReply reply;
    reply.error = wire::make_error(proto::ErrorCode::ClusterLostConnection, unreachable_reason());
    h.on_reply(reply);
  }
}

NodeLink* PairLink::primary() {
  for (auto& node : nodes_) {
    if (node->role() == NodeRole::kPrimary) return node.get();
  }
  return nullptr;
}

void PairLink::on_role_change(int which, NodeRole was) {
  if (on_node_state_) on_node_state_(*nodes_[which], which == 0 ? "primary" : "backup");
  NodeLink* now = primary();
  if (now == serving_) return;
  serving_ = now;
  if (!now) {
    // The primary said, on its open connection, that it is the backup now: a planned hand-over.
    // (One that failed or lost its lease drops the connection: kDown.)
    if (was == NodeRole::kPrimary && roles_[which] == NodeRole::kBackup) {
      hand_over_until_ms_ = uv_now(loop_) + hand_over_hold_ms_;
      arm_hold_timer();
      spdlog::info("event=pair_handing_over pair={} node={} hold_ms={}", id_, quote(nodes_[which]->name()), hand_over_hold_ms_);
    } else {
      spdlog::warn("event=pair_unreachable pair={} reason={}", id_, quote(unreachable_reason()));
    }
    if (on_serving_) on_serving_(false, false);
    return;
  }
  const bool failover = last_serving_ != nullptr && last_serving_ != now;
  if (failover) ++failovers_;
  last_serving_ = now;
  const size_t held = held_.size();
  hand_over_until_ms_ = 0;
  spdlog::info("event=pair_primary pair={} node={} failover={} held={}", id_, quote(now->name()), failover, held);
  // The agents are logged in again there first: the node handles a connection's requests in order.
  if (on_serving_) on_serving_(true, failover);
  release_held(*now);
  arm_hold_timer();
}

std::string PairLink::unreachable_reason() const {
  std::string out = "node pair " + id_ + " has no reachable primary (";
  for (int i = 0; i < 2; ++i) {
    const NodeLink& node = *nodes_[i];
    if (i) out += "; ";
    out += node.name() + ": " + node_role_name(node.role());
    if (node.role() == NodeRole::kDown) out += ", " + node.last_error();
  }
  return out + ")";
}

nlohmann::json PairLink::status() const {
  nlohmann::json nodes = nlohmann::json::array();
  for (const auto& node : nodes_) {
    nodes.push_back({{"node", node->name()},
                     {"state", node_role_name(node->role())},
                     {"in_flight", node->in_flight()},
                     {"suspect", node->suspect()},
                     {"unreadable_replies", node->unreadable_replies()},
                     {"connects", node->connects()},
                     {"last_error", node->role() == NodeRole::kDown ? node->last_error() : ""}});
  }
  return {{"id", id_}, {"reachable", serving_ != nullptr}, {"serving", serving_ ? serving_->name() : ""},
          {"handing_over", handing_over()}, {"held", held_.size()},
          {"failovers", failovers_}, {"nodes", nodes}};
}

}  // namespace ix::proxy
