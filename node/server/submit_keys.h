// SubmitKeys: the idempotency keys of recent submits (RequestSubmit.request_id) and the
// interactions they created, so that a retried submit is answered with the original interaction
// instead of creating another (DESIGN.md §7). A key is kept for the pair's submit-key-window,
// in memory for the answer and in the store — written in the same transaction as the
// interaction (PutSubmitKey) — so that the primary that takes over after a failover loads it and
// answers the retry the same way. Keys are scoped by tenant. Owned by the ServiceContext; loop
// thread only.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "node/store/store.h"

namespace ix::node {

class SubmitKeys {
 public:
  // The longest request_id a submit may carry, in bytes.
  static constexpr size_t kMaxRequestIdBytes = 256;

  // The stored key of a tenant's request_id (unambiguous whatever the tenant ID holds).
  static std::string scoped(const std::string& tenant, const std::string& request_id) {
    return std::to_string(tenant.size()) + ":" + tenant + "/" + request_id;
  }

  // What the store kept (oldest first), at start-up as primary.
  void load(const std::vector<PutSubmitKey>& stored) {
    for (const PutSubmitKey& k : stored) remember(k.key, k.interaction_id, k.recorded_us);
  }

  // The interaction a key created, if it was recorded less than `window_us` before now.
  const std::string* find(const std::string& key, int64_t now_us, int64_t window_us) const {
    auto it = by_key_.find(key);
    if (it == by_key_.end() || it->second.recorded_us < now_us - window_us) return nullptr;
    return &it->second.interaction_id;
  }

  // Records a key with the interaction it created, in memory now and in `t`; forgets the keys
  // older than the window, here and (with TrimSubmitKeys in the same transaction) in the store.
  void record(Transaction& t, const std::string& key, const std::string& interaction_id, int64_t now_us, int64_t window_us) {
    if (forget_before(now_us - window_us)) t.mutations.push_back(TrimSubmitKeys{now_us - window_us});
    remember(key, interaction_id, now_us);
    t.mutations.push_back(PutSubmitKey{key, interaction_id, now_us});
  }

  size_t size() const { return by_key_.size(); }

 private:
  struct Recorded {
    std::string interaction_id;
    int64_t recorded_us = 0;
  };

  void remember(const std::string& key, const std::string& interaction_id, int64_t recorded_us) {
    by_key_[key] = {interaction_id, recorded_us};
    by_time_.emplace_back(recorded_us, key);
  }
  // True when some key was forgotten.
  bool forget_before(int64_t cutoff_us) {
    bool forgot = false;
    while (!by_time_.empty() && by_time_.front().first < cutoff_us) {
      auto it = by_key_.find(by_time_.front().second);
      // A key recorded again later has a newer entry further on; only its last one counts.
      if (it != by_key_.end() && it->second.recorded_us == by_time_.front().first) by_key_.erase(it);
      by_time_.pop_front();
      forgot = true;
    }
    return forgot;
  }

  std::unordered_map<std::string, Recorded> by_key_;
  std::deque<std::pair<int64_t, std::string>> by_time_;  // in the order recorded
};

}  // namespace ix::node
