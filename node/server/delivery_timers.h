// DeliveryTimers: one deadline per interaction that an agent has — delivering-timeout while it
// is invited, handling-timeout while it handles it. Starting a deadline replaces the
// interaction's previous one; when one passes, on_expire gets the interaction's ID (from the
// clock's turn, never from start() or cancel()). Owned by InteractionLifecycle; loop thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>

#include "cluster-config/model.h"
#include "node/server/clock.h"

namespace ix::node {

class DeliveryTimers {
 public:
  using ExpireCallback = std::function<void(const std::string& interaction_id)>;

  DeliveryTimers(Clock& clock, ExpireCallback on_expire)
      : deadlines_(clock.make_deadlines([this](uint64_t id) { expire(id); })), on_expire_(std::move(on_expire)) {}

  void start(const std::string& interaction_id, config::Duration timeout) {
    cancel(interaction_id);
    const uint64_t id = ++next_id_;
    id_of_[interaction_id] = id;
    interaction_of_[id] = interaction_id;
    deadlines_->start(id, static_cast<uint64_t>(timeout.count()));
  }
  void cancel(const std::string& interaction_id) {
    auto it = id_of_.find(interaction_id);
    if (it == id_of_.end()) return;
    deadlines_->cancel(it->second);
    interaction_of_.erase(it->second);
    id_of_.erase(it);
  }
  // Drops every deadline (the service is stopping; the interactions outlive it in the store).
  void clear() {
    deadlines_->clear();
    id_of_.clear();
    interaction_of_.clear();
  }
  size_t size() const { return id_of_.size(); }

 private:
  void expire(uint64_t id) {
    auto it = interaction_of_.find(id);
    if (it == interaction_of_.end()) return;
    const std::string interaction_id = it->second;
    interaction_of_.erase(it);
    id_of_.erase(interaction_id);
    on_expire_(interaction_id);
  }

  std::unique_ptr<Deadlines> deadlines_;
  ExpireCallback on_expire_;
  std::unordered_map<std::string, uint64_t> id_of_;         // interaction -> deadline ID
  std::unordered_map<uint64_t, std::string> interaction_of_;  // deadline ID -> interaction
  uint64_t next_id_ = 0;
};

}  // namespace ix::node
