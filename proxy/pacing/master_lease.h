// MasterLease: "am I the pacing master?" for one proxy's pacing module — a pure state machine
// over the named lease a node pair keeps (RequestLease, protocol/schema/ixcluster.fbs). It sends
// nothing and reads no clock: the owner calls tick(now) on its own loop, sends the request tick()
// returns (through ProxyServer::lease_call()), and hands the answer back with on_reply(now). Time
// is the owner's monotonic clock in milliseconds.
//
// The rules, and why:
//   - At most one request is in flight. The master renews every ttl/3; a non-master tries to
//     acquire every ttl/3, and also right when the holder's lease (as last reported) runs out,
//     so it takes over within one ttl (plus a round trip) of the master's last renewal.
//   - The master is master only while (the send time of its last confirmed renewal) + ttl −
//     margin is in the future. The node started the term's new expiry no earlier than the send,
//     so the master stops at least `margin` before the lease can run out for the others, even
//     when every later renewal is lost or the pair is unreachable.
//   - A gap between calls longer than stall_after (the process was frozen, e.g. SIGSTOP, or the
//     loop was starved) ends mastership at once: what the module prepared before the gap may be
//     stale, so it is master again only after a request sent after the gap is confirmed. A
//     reply to a request sent before the gap is ignored.
//   - A reply that is not the answer to the request in flight (a late reply to one given up as
//     lost after ttl/3) is ignored.
//   - Renew never starts a new term (the node refuses a run-out renewal); a master that lost its
//     validity acquires again and learns from the answer whether the term (fencing) is the same.
//
// The owner calls tick() at next_due() and at least every tick_interval() (ttl/10) — more often
// is fine — and at once after on_reply(). Single-threaded: the owner's loop only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace ix::pacing {

struct MasterLeaseOptions {
  std::string name = "pacing-master";
  std::string holder;      // this proxy's ID
  int64_t ttl_ms = 10'000;
  int64_t margin_ms = 0;       // 0: ttl/5
  int64_t stall_after_ms = 0;  // 0: ttl/5 (the owner ticks every ttl/10)
};

class MasterLease {
 public:
  enum class Operation { kAcquire, kRenew, kRelease };
  // A request to send: RequestLease {name, holder, operation, ttl_ms}, answered with on_reply(id).
  struct Request {
    uint64_t id = 0;
    Operation operation = Operation::kAcquire;
    std::string name;
    std::string holder;
    uint32_t ttl_ms = 0;
  };
  // The answer: an EventLease (ok) or an error (2002: no definite answer, or the node's).
  struct Reply {
    bool ok = false;
    std::string holder;
    uint64_t fencing = 0;
    uint32_t ttl_left_ms = 0;
    bool granted = false;
    std::string error;
  };

  explicit MasterLease(MasterLeaseOptions options);

  // Advances to now; returns the request to send now, if one is due.
  std::optional<Request> tick(int64_t now_ms);
  // The answer to request `id` (sent at the time tick() returned it).
  void on_reply(uint64_t id, const Reply& reply, int64_t now_ms);
  // A request that ends this proxy's term at once (a clean shutdown), if it is master; it stops
  // being master now, whatever the answer.
  std::optional<Request> release(int64_t now_ms);

  // Whether this proxy may act as master now (post, with fencing()). False after a gap longer
  // than stall_after since the last tick(), even before the next tick() notices it.
  bool is_master(int64_t now_ms) const;
  // The fencing number of this proxy's term while master; otherwise the last one reported (0
  // before any answer).
  uint64_t fencing() const { return fencing_; }
  // The holder as last reported ("" when nobody holds it or nothing was heard yet).
  const std::string& holder() const { return holder_; }
  // When this proxy became master (its clock), while it is.
  std::optional<int64_t> master_since(int64_t now_ms) const;
  // Until when the current mastership is valid (its clock); meaningful while is_master().
  int64_t valid_until() const { return valid_until_; }
  int64_t tick_interval() const { return options_.ttl_ms / 10; }
  // When tick() next has something to do (send, or give up the request in flight as lost): the
  // owner's timer fires then or after tick_interval(), whichever is sooner, so that a takeover
  // waits for no tick.
  int64_t next_due() const { return in_flight_ ? in_flight_sent_ms_ + period_ms_ : next_attempt_ms_; }
  const MasterLeaseOptions& options() const { return options_; }

 private:
  Request make(Operation op, int64_t now_ms);
  // Notices a stall (a gap since the last call) and records the call.
  void observe(int64_t now_ms);

  MasterLeaseOptions options_;
  int64_t period_ms_;
  uint64_t next_id_ = 0;
  std::optional<uint64_t> in_flight_;  // the request whose answer counts
  int64_t in_flight_sent_ms_ = 0;
  std::optional<int64_t> last_call_ms_;
  int64_t next_attempt_ms_ = 0;  // the first tick() sends at once
  int64_t valid_until_ = 0;      // master while now < valid_until_
  int64_t master_since_ms_ = 0;
  uint64_t fencing_ = 0;
  std::string holder_;
  bool released_ = false;  // release() ran: no more attempts
};

}  // namespace ix::pacing
