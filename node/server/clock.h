// Clock: the time and the deadlines the interaction service runs on. The node runs on
// SystemClock (the wall clock for timestamps, libuv timers for deadlines); in-process tests run
// on a manual clock that they advance, so timeouts are tested without sleeping.
//
// Deadlines: a set of deadlines by ID with one expire callback, the interface of
// net::RequestTimers. Expiry runs from the clock's own turn (a timer callback, or the test's
// advance()), never from start() or cancel(). Loop thread only.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>

namespace ix::node {

class Deadlines {
 public:
  using ExpireCallback = std::function<void(uint64_t id)>;
  virtual ~Deadlines() = default;
  // Starts (or restarts) the deadline of id, timeout_ms from now.
  virtual void start(uint64_t id, uint64_t timeout_ms) = 0;
  // Returns false when id had no deadline (already expired or never started).
  virtual bool cancel(uint64_t id) = 0;
  // Drops every deadline without expiring it.
  virtual void clear() = 0;
  virtual size_t size() const = 0;
};

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time in microseconds since the epoch, for timestamps.
  virtual int64_t now_us() const = 0;
  virtual std::unique_ptr<Deadlines> make_deadlines(Deadlines::ExpireCallback on_expire) = 0;
};

// The wall clock and libuv timers on one loop.
class SystemClock final : public Clock {
 public:
  explicit SystemClock(uv_loop_t* loop) : loop_(loop) {}
  int64_t now_us() const override;
  std::unique_ptr<Deadlines> make_deadlines(Deadlines::ExpireCallback on_expire) override;

 private:
  uv_loop_t* loop_;
};

}  // namespace ix::node
