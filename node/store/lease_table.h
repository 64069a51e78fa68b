// The lease table: named leases that clients (the proxies' pacing modules electing their master)
// hold through the node pair, stored in the pair's database beside the interactions so that a
// lease and its fencing number survive the pair's failover. The pair's own leadership is one
// more row of the same table (kPairLeaseName, store.h), driven by PairLease (node/store/lease.h):
// its fencing number is the pair's epoch.
//
// Expiry times are wall-clock (system_clock) milliseconds since the epoch, not a monotonic
// clock: both nodes of the pair read the same rows, and after a failover the backup compares its
// own clock with what the old primary wrote; monotonic clocks of two processes (or hosts) share
// no origin. The request's "now" is taken once, on the loop thread, when the request arrives.
//
// decide_lease() is the one decision, a pure function used by every Store implementation inside
// the transaction that reads and writes the row, so two acquirers can never both win.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace ix::node {

enum class LeaseOp { kAcquire, kRenew, kRelease };

// One request against the lease table.
struct LeaseCommand {
  LeaseOp op = LeaseOp::kAcquire;
  std::string name;
  std::string holder;
  uint64_t ttl_ms = 0;
  int64_t now_ms = 0;  // wall clock, ms since the epoch
};

// One row of the lease table. A released or expired lease keeps its row (holder empty, or
// expires_ms in the past) so that its fencing number is never reused.
struct LeaseRecord {
  std::string name;
  std::string holder;      // empty: nobody holds it
  uint64_t fencing = 0;    // the current (or last) term; 0: never granted
  int64_t expires_ms = 0;  // wall clock, ms since the epoch
};

// What a command did: the row as it stands after it, whether it must be written, and whether the
// requester holds the lease now.
struct LeaseOutcome {
  LeaseRecord record;
  LeaseRecord previous;  // the row as the command found it (fencing 0 when there was none)
  bool changed = false;
  bool granted = false;
};

inline bool lease_held(const LeaseRecord& r, int64_t now_ms) { return !r.holder.empty() && r.expires_ms > now_ms; }

// Acquire: a free or run-out lease goes to the requester with fencing + 1 (a new term); the
//          holder's own acquire extends its term; someone else's unexpired lease is left alone.
// Renew:   extends the requester's unexpired term; anything else is left alone (no new term).
// Release: ends the requester's unexpired term at once; anything else is left alone.
inline LeaseOutcome decide_lease(const std::optional<LeaseRecord>& current, const LeaseCommand& c) {
  LeaseOutcome out;
  out.record = current.value_or(LeaseRecord{c.name, "", 0, 0});
  out.previous = out.record;
  LeaseRecord& r = out.record;
  const bool held = lease_held(r, c.now_ms);
  const bool mine = held && r.holder == c.holder;
  switch (c.op) {
    case LeaseOp::kAcquire:
      if (held && !mine) break;
      if (!mine) {
        r.holder = c.holder;
        ++r.fencing;
      }
      r.expires_ms = c.now_ms + static_cast<int64_t>(c.ttl_ms);
      out.changed = out.granted = true;
      break;
    case LeaseOp::kRenew:
      if (!mine) break;
      r.expires_ms = c.now_ms + static_cast<int64_t>(c.ttl_ms);
      out.changed = out.granted = true;
      break;
    case LeaseOp::kRelease:
      if (!mine) break;
      r.holder.clear();
      r.expires_ms = c.now_ms;
      out.changed = true;
      break;
  }
  // Report a run-out lease as free: its holder no longer holds it.
  if (!lease_held(r, c.now_ms)) r.holder.clear();
  return out;
}

}  // namespace ix::node
