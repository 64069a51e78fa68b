#include "proxy/upstream/pair_link.h"

#include <spdlog/spdlog.h>

#include "protocol/log.h"

namespace ix::proxy {

namespace {

std::string describe(const config::ServerEndpoint& e) { return e.host + ":" + std::to_string(e.port); }

}  // namespace

PairLink::PairLink(uv_loop_t* loop, const config::NodePair& pair, const NodeLinkOptions& options) : id_(pair.id) {
  const config::ServerEndpoint* endpoints[2] = {&pair.primary, &pair.backup};
  const char* names[2] = {"primary", "backup"};
  // What the pair's nodes accept: a request re-addressed past it fails alone (NodeLink::send).
  NodeLinkOptions node_options = options;
  if (pair.settings.max_frame_size) node_options.node_max_frame_size = pair.settings.max_frame_size;
  for (int i = 0; i < 2; ++i) {
    nodes_[i] = std::make_unique<NodeLink>(loop, pair.id + " " + names[i] + " (" + describe(*endpoints[i]) + ")",
                                           net::Endpoint{endpoints[i]->host, endpoints[i]->port}, node_options);
    nodes_[i]->set_on_role([this, i](NodeRole) { on_role_change(i); });
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
}

void PairLink::set_on_event(const NodeLink::EventCallback& cb) {
  for (auto& node : nodes_) node->set_on_event(cb);
}

void PairLink::set_request_timeout(uint64_t ms) {
  for (auto& node : nodes_) node->set_request_timeout(ms);
}

NodeLink* PairLink::primary() {
  for (auto& node : nodes_) {
    if (node->role() == NodeRole::kPrimary) return node.get();
  }
  return nullptr;
}

void PairLink::on_role_change(int which) {
  if (on_node_state_) on_node_state_(*nodes_[which], which == 0 ? "primary" : "backup");
  const NodeLink* now = primary();
  if (now == serving_) return;
  serving_ = now;
  if (!now) {
    spdlog::warn("event=pair_unreachable pair={} reason={}", id_, quote(unreachable_reason()));
    if (on_serving_) on_serving_(false, false);
    return;
  }
  const bool failover = last_serving_ != nullptr && last_serving_ != now;
  if (failover) ++failovers_;
  last_serving_ = now;
  spdlog::info("event=pair_primary pair={} node={} failover={}", id_, quote(now->name()), failover);
  if (on_serving_) on_serving_(true, failover);
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
          {"failovers", failovers_}, {"nodes", nodes}};
}

}  // namespace ix::proxy
