// RequestTimers: deadlines for the outstanding requests of one loop, driven by one libuv timer.
//
// An owner (an upstream link, a client session) starts a deadline per request ID and cancels it
// when the reply arrives; when a deadline passes, the expire callback runs with the ID (from the
// timer callback, never from start() or cancel()). Single-threaded.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <map>
#include <unordered_map>

#include "protocol/net/timer.h"

namespace ix::net {

class RequestTimers {
 public:
  using ExpireCallback = std::function<void(uint64_t id)>;

  RequestTimers(uv_loop_t* loop, ExpireCallback on_expire);

  // Starts (or restarts) the deadline of id, timeout_ms from now.
  void start(uint64_t id, uint64_t timeout_ms);
  // Returns false when id had no deadline (already expired or never started).
  bool cancel(uint64_t id);
  // Drops every deadline without expiring it (the owner is shutting down).
  void clear();
  size_t size() const { return by_id_.size(); }

 private:
  void arm();
  void on_timer();

  uv_loop_t* loop_;
  ExpireCallback on_expire_;
  Timer timer_;
  std::multimap<uint64_t, uint64_t> by_deadline_;  // deadline (loop ms) -> id
  std::unordered_map<uint64_t, std::multimap<uint64_t, uint64_t>::iterator> by_id_;
  uint64_t armed_for_ = 0;
};

}  // namespace ix::net
