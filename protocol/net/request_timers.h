// RequestTimers: deadlines for the outstanding requests of one loop, driven by one libuv timer.
//
// An owner (an upstream link, a client session) starts a deadline per request ID and cancels it
// when the reply arrives; when a deadline passes, the expire callback runs with the ID (from the
// timer callback, never from start() or cancel()). Single-threaded.
//
// Built for one deadline per request at thousands of requests per second: deadlines started
// with the same timeout only grow, so they queue in start order (a deque, no allocation per
// request once warm) and a cancelled one is dropped from the queue lazily — at once when it is
// at the front, which is where in-order replies find it. A deadline earlier than the last one
// queued (a shorter timeout) goes to a small ordered map beside the queue.
#pragma once

#include <uv.h>

#include <cstdint>
#include <deque>
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
  struct Entry {
    uint64_t deadline;  // loop ms
    uint64_t id;
  };
  bool live(const Entry& e) const;
  void drop_dead_fronts();
  void arm();
  void on_timer();

  uv_loop_t* loop_;
  ExpireCallback on_expire_;
  Timer timer_;
  std::deque<Entry> in_order_;                     // deadlines in start order, non-decreasing
  std::multimap<uint64_t, uint64_t> out_of_order_;  // deadline -> id, for the ones that came earlier
  std::unordered_map<uint64_t, uint64_t> by_id_;    // live id -> its deadline
  uint64_t armed_for_ = 0;
};

}  // namespace ix::net
