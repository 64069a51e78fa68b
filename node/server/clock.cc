#include "node/server/clock.h"

#include <chrono>

#include "protocol/net/request_timers.h"

namespace ix::node {

namespace {

class LoopDeadlines final : public Deadlines {
 public:
  LoopDeadlines(uv_loop_t* loop, ExpireCallback on_expire) : timers_(loop, std::move(on_expire)) {}
  void start(uint64_t id, uint64_t timeout_ms) override { timers_.start(id, timeout_ms); }
  bool cancel(uint64_t id) override { return timers_.cancel(id); }
  void clear() override { timers_.clear(); }
  size_t size() const override { return timers_.size(); }

 private:
  net::RequestTimers timers_;
};

}  // namespace

int64_t SystemClock::now_us() const {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::unique_ptr<Deadlines> SystemClock::make_deadlines(Deadlines::ExpireCallback on_expire) {
  return std::make_unique<LoopDeadlines>(loop_, std::move(on_expire));
}

}  // namespace ix::node
