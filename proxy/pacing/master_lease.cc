#include "proxy/pacing/master_lease.h"

#include <algorithm>

namespace ix::pacing {

MasterLease::MasterLease(MasterLeaseOptions options) : options_(std::move(options)) {
  options_.ttl_ms = std::max<int64_t>(options_.ttl_ms, 3);
  if (options_.margin_ms <= 0) options_.margin_ms = options_.ttl_ms / 5;
  if (options_.stall_after_ms <= 0) options_.stall_after_ms = options_.ttl_ms / 5;
  period_ms_ = options_.ttl_ms / 3;
}

void MasterLease::observe(int64_t now_ms) {
  if (last_call_ms_ && now_ms - *last_call_ms_ > options_.stall_after_ms) {
    // Frozen or starved: nothing decided before the gap counts, the answer in flight included.
    valid_until_ = 0;
    in_flight_.reset();
    next_attempt_ms_ = now_ms;
  }
  last_call_ms_ = now_ms;
}

bool MasterLease::is_master(int64_t now_ms) const {
  if (released_) return false;
  if (last_call_ms_ && now_ms - *last_call_ms_ > options_.stall_after_ms) return false;
  return now_ms < valid_until_;
}

std::optional<int64_t> MasterLease::master_since(int64_t now_ms) const {
  if (!is_master(now_ms)) return std::nullopt;
  return master_since_ms_;
}

MasterLease::Request MasterLease::make(Operation op, int64_t now_ms) {
  Request r;
  r.id = ++next_id_;
  r.operation = op;
  r.name = options_.name;
  r.holder = options_.holder;
  r.ttl_ms = static_cast<uint32_t>(options_.ttl_ms);
  in_flight_ = r.id;
  in_flight_sent_ms_ = now_ms;
  next_attempt_ms_ = now_ms + period_ms_;
  return r;
}

std::optional<MasterLease::Request> MasterLease::tick(int64_t now_ms) {
  observe(now_ms);
  if (released_) return std::nullopt;
  if (in_flight_) {
    if (now_ms - in_flight_sent_ms_ < period_ms_) return std::nullopt;  // still waiting for the answer
    in_flight_.reset();  // lost: a late answer to it is ignored
  }
  if (now_ms < next_attempt_ms_) return std::nullopt;
  return make(is_master(now_ms) ? Operation::kRenew : Operation::kAcquire, now_ms);
}

void MasterLease::on_reply(uint64_t id, const Reply& reply, int64_t now_ms) {
  observe(now_ms);
  if (!in_flight_ || *in_flight_ != id) return;
  in_flight_.reset();
  if (released_) return;
  if (!reply.ok) {
    // No definite answer: try again sooner than a period, while mastership (if any) runs on.
    next_attempt_ms_ = std::min(next_attempt_ms_, now_ms + options_.ttl_ms / 10);
    return;
  }
  holder_ = reply.holder;
  if (reply.granted) {
    const bool continuing = is_master(now_ms) && reply.fencing == fencing_;
    fencing_ = reply.fencing;
    // From the send, not the answer: the node set the new expiry no earlier than that.
    valid_until_ = in_flight_sent_ms_ + options_.ttl_ms - options_.margin_ms;
    if (!continuing) master_since_ms_ = now_ms;
    return;
  }
  valid_until_ = 0;
  fencing_ = reply.fencing;
  // Someone else holds it: try again when their lease (as reported) runs out, if that is sooner
  // than a period; nobody holds it (a refused renewal of a run-out term): acquire at once.
  const int64_t free_at = reply.holder.empty() ? now_ms : now_ms + reply.ttl_left_ms + 1;
  next_attempt_ms_ = std::min(next_attempt_ms_, free_at);
}

std::optional<MasterLease::Request> MasterLease::release(int64_t now_ms) {
  observe(now_ms);
  const bool held = valid_until_ > 0 && holder_ == options_.holder;
  valid_until_ = 0;
  released_ = true;
  if (!held) return std::nullopt;
  Request r = make(Operation::kRelease, now_ms);
  r.ttl_ms = 0;
  return r;
}

}  // namespace ix::pacing
