// ManualClock: a Clock for in-process tests. Time stands still until the test calls advance();
// advance() then expires, in deadline order, every deadline that time passed, so delivery and
// handling timeouts are tested without sleeping. Test thread only.
#pragma once

#include <map>
#include <set>

#include "node/server/clock.h"

namespace ix::test {

class ManualClock final : public node::Clock {
 public:
  int64_t now_us() const override { return now_ms_ * 1000 + kEpochUs; }
  std::unique_ptr<node::Deadlines> make_deadlines(node::Deadlines::ExpireCallback on_expire) override {
    return std::make_unique<Set>(*this, std::move(on_expire));
  }

  // Moves time forward, expiring what falls due on the way (each at its own time).
  void advance(uint64_t ms) {
    const uint64_t until = now_ms_ + ms;
    for (;;) {
      // The earliest deadline of any set, at or before `until`.
      Set* due_set = nullptr;
      uint64_t due_at = until + 1, due_id = 0;
      for (Set* set : sets_) {
        if (!set->by_deadline.empty() && set->by_deadline.begin()->first < due_at) {
          due_set = set;
          due_at = set->by_deadline.begin()->first;
          due_id = set->by_deadline.begin()->second;
        }
      }
      if (due_set == nullptr) break;
      now_ms_ = due_at;
      due_set->cancel(due_id);
      due_set->on_expire(due_id);
    }
    now_ms_ = until;
  }
  size_t pending() const {
    size_t n = 0;
    for (const Set* set : sets_) n += set->size();
    return n;
  }

 private:
  static constexpr int64_t kEpochUs = 1'700'000'000'000'000;

  struct Set final : node::Deadlines {
    Set(ManualClock& c, ExpireCallback cb) : clock(c), on_expire(std::move(cb)) { clock.sets_.insert(this); }
    ~Set() override { clock.sets_.erase(this); }
    void start(uint64_t id, uint64_t timeout_ms) override {
      cancel(id);
      by_id[id] = by_deadline.emplace(clock.now_ms_ + timeout_ms, id);
    }
    bool cancel(uint64_t id) override {
      auto it = by_id.find(id);
      if (it == by_id.end()) return false;
      by_deadline.erase(it->second);
      by_id.erase(it);
      return true;
    }
    void clear() override {
      by_id.clear();
      by_deadline.clear();
    }
    size_t size() const override { return by_id.size(); }

    ManualClock& clock;
    ExpireCallback on_expire;
    std::multimap<uint64_t, uint64_t> by_deadline;
    std::map<uint64_t, std::multimap<uint64_t, uint64_t>::iterator> by_id;
  };

  uint64_t now_ms_ = 0;
  std::set<Set*> sets_;
};

}  // namespace ix::test
