#include "node/model/interaction_registry.h"

namespace ix::node {

void InteractionRegistry::put(std::unique_ptr<Interaction> interaction) {
  const std::string id = interaction->interaction_id;
  remove(id);
  if (interaction->state == proto::InteractionState::Queued && !interaction->queue.empty()) {
    queues_[interaction->queue].insert(key_of(*interaction));
  }
  by_id_[id] = std::move(interaction);
}

Interaction* InteractionRegistry::find(const std::string& id) {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : it->second.get();
}

const Interaction* InteractionRegistry::find(const std::string& id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : it->second.get();
}

void InteractionRegistry::remove(const std::string& id) {
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return;
  take_from_queue(*it->second);
  by_id_.erase(it);
}

void InteractionRegistry::place_in_queue(Interaction& interaction, const std::string& queue, int64_t now_us) {
  take_from_queue(interaction);
  interaction.queue = queue;
  interaction.state = proto::InteractionState::Queued;
  interaction.placed_at_us = now_us;
  interaction.agent_id.clear();
  interaction.place_id.clear();
  queues_[queue].insert(key_of(interaction));
}

void InteractionRegistry::take_from_queue(Interaction& interaction) {
  if (interaction.state != proto::InteractionState::Queued) return;
  auto q = queues_.find(interaction.queue);
  if (q == queues_.end()) return;
  q->second.erase(key_of(interaction));
  if (q->second.empty()) queues_.erase(q);
}

std::vector<Interaction*> InteractionRegistry::peek(const std::vector<std::string>& queues, size_t count) const {
  // Merge the queues' ordered sets, skipping locked interactions.
  std::vector<std::pair<std::set<QueueKey>::const_iterator, std::set<QueueKey>::const_iterator>> cursors;
  for (const std::string& name : queues) {
    auto q = queues_.find(name);
    if (q != queues_.end()) cursors.emplace_back(q->second.begin(), q->second.end());
  }
  std::vector<Interaction*> out;
  while (out.size() < count) {
    int best = -1;
    for (size_t i = 0; i < cursors.size(); ++i) {
      if (cursors[i].first == cursors[i].second) continue;
      if (best < 0 || *cursors[i].first < *cursors[static_cast<size_t>(best)].first) best = static_cast<int>(i);
    }
    if (best < 0) break;
    auto& cursor = cursors[static_cast<size_t>(best)].first;
    Interaction* interaction = by_id_.at(cursor->id).get();
    ++cursor;
    if (!interaction->locked) out.push_back(interaction);
  }
  return out;
}

size_t InteractionRegistry::queue_depth(const std::string& queue) const {
  auto q = queues_.find(queue);
  return q == queues_.end() ? 0 : q->second.size();
}

std::map<std::string, size_t> InteractionRegistry::queue_depths() const {
  std::map<std::string, size_t> out;
  for (const auto& [name, entries] : queues_) out[name] = entries.size();
  return out;
}

std::map<int, size_t> InteractionRegistry::count_by_state() const {
  std::map<int, size_t> out;
  for (const auto& [id, interaction] : by_id_) ++out[static_cast<int>(interaction->state)];
  return out;
}

}  // namespace ix::node
