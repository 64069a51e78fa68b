#include "protocol/net/request_timers.h"

#include <vector>

namespace ix::net {

RequestTimers::RequestTimers(uv_loop_t* loop, ExpireCallback on_expire)
    : loop_(loop), on_expire_(std::move(on_expire)), timer_(loop) {}

void RequestTimers::start(uint64_t id, uint64_t timeout_ms) {
  cancel(id);
  uint64_t deadline = uv_now(loop_) + timeout_ms;
  by_id_[id] = by_deadline_.emplace(deadline, id);
  arm();
}

bool RequestTimers::cancel(uint64_t id) {
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return false;
  by_deadline_.erase(it->second);
  by_id_.erase(it);
  if (by_deadline_.empty()) {  // an idle owner must not keep its loop alive
    timer_.stop();
    armed_for_ = 0;
  }
  return true;
}

void RequestTimers::clear() {
  by_deadline_.clear();
  by_id_.clear();
  timer_.stop();
  armed_for_ = 0;
}

void RequestTimers::arm() {
  if (by_deadline_.empty()) return;
  uint64_t earliest = by_deadline_.begin()->first;
  // Armed for the same or an earlier moment: on_timer() re-arms for whatever is due next.
  if (timer_.active() && armed_for_ <= earliest) return;
  armed_for_ = earliest;
  uint64_t now = uv_now(loop_);
  timer_.start(earliest > now ? earliest - now : 0, [this] { on_timer(); });
}

void RequestTimers::on_timer() {
  armed_for_ = 0;
  uint64_t now = uv_now(loop_);
  std::vector<uint64_t> expired;
  while (!by_deadline_.empty() && by_deadline_.begin()->first <= now) {
    expired.push_back(by_deadline_.begin()->second);
    by_id_.erase(by_deadline_.begin()->second);
    by_deadline_.erase(by_deadline_.begin());
  }
  arm();
  for (uint64_t id : expired) on_expire_(id);
}

}  // namespace ix::net
