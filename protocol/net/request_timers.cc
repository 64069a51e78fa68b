#include "protocol/net/request_timers.h"

#include <algorithm>
#include <vector>

namespace ix::net {

RequestTimers::RequestTimers(uv_loop_t* loop, ExpireCallback on_expire)
    : loop_(loop), on_expire_(std::move(on_expire)), timer_(loop) {}

void RequestTimers::start(uint64_t id, uint64_t timeout_ms) {
  const uint64_t deadline = uv_now(loop_) + timeout_ms;
  by_id_[id] = deadline;  // a restarted id's old entry is no longer live
  if (in_order_.empty() || in_order_.back().deadline <= deadline) {
    in_order_.push_back({deadline, id});
  } else {
    out_of_order_.emplace(deadline, id);
  }
  arm();
}

bool RequestTimers::cancel(uint64_t id) {
  if (by_id_.erase(id) == 0) return false;
  if (by_id_.empty()) {  // an idle owner must not keep its loop alive
    clear();
    return true;
  }
  drop_dead_fronts();
  return true;
}

void RequestTimers::clear() {
  in_order_.clear();
  out_of_order_.clear();
  by_id_.clear();
  timer_.stop();
  armed_for_ = 0;
}

bool RequestTimers::live(const Entry& e) const {
  auto it = by_id_.find(e.id);
  return it != by_id_.end() && it->second == e.deadline;
}

void RequestTimers::drop_dead_fronts() {
  while (!in_order_.empty() && !live(in_order_.front())) in_order_.pop_front();
  while (!out_of_order_.empty() && !live({out_of_order_.begin()->first, out_of_order_.begin()->second})) {
    out_of_order_.erase(out_of_order_.begin());
  }
}

void RequestTimers::arm() {
  if (by_id_.empty()) return;
  uint64_t earliest = UINT64_MAX;
  if (!in_order_.empty()) earliest = in_order_.front().deadline;
  if (!out_of_order_.empty()) earliest = std::min(earliest, out_of_order_.begin()->first);
  // Armed for the same or an earlier moment: on_timer() re-arms for whatever is due next.
  if (timer_.active() && armed_for_ <= earliest) return;
  armed_for_ = earliest;
  const uint64_t now = uv_now(loop_);
  timer_.start(earliest > now ? earliest - now : 0, [this] { on_timer(); });
}

void RequestTimers::on_timer() {
  armed_for_ = 0;
  const uint64_t now = uv_now(loop_);
  std::vector<Entry> expired;
  for (;;) {
    drop_dead_fronts();
    const bool queue_first = !in_order_.empty() &&
                             (out_of_order_.empty() || in_order_.front().deadline <= out_of_order_.begin()->first);
    Entry next{};
    if (queue_first) {
      next = in_order_.front();
    } else if (!out_of_order_.empty()) {
      next = {out_of_order_.begin()->first, out_of_order_.begin()->second};
    } else {
      break;
    }
    if (next.deadline > now) break;
    if (queue_first) {
      in_order_.pop_front();
    } else {
      out_of_order_.erase(out_of_order_.begin());
    }
    by_id_.erase(next.id);
    expired.push_back(next);
  }
  if (by_id_.empty()) {
    in_order_.clear();
    out_of_order_.clear();
  }
  arm();
  for (const Entry& e : expired) on_expire_(e.id);
}

}  // namespace ix::net
