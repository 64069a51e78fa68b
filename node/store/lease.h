// Lease: the leadership of a node pair — a time-bounded lease that lives in the pair's database,
// with fencing (DESIGN.md, primary/backup). Not an OS lock: an flock or an advisory lock cannot
// see a holder that is alive but frozen.
//
// The lease is the lease-table row kPairLeaseName (store.h): holder, fencing number (the pair's
// epoch), expiry in wall-clock ms. Lease is the interface the node holds; PairLease is its one
// implementation, built only on Store::lease() and Store::set_fence(), so SQLite, PostgreSQL and
// MemoryStore share one timing logic. A store gets the pair lease right by getting lease()
// (decide_lease in one serialised transaction) and set_fence() (the epoch checked inside every
// write transaction) right; it may add a faster signal of its own (a PostgreSQL session advisory
// lock freed when the holder's session dies) inside lease(), never instead of the row.
//
// Timing, from the pair's lease-timeout T (LeaseTiming::from_timeout):
//   - every grant or renewal writes expiry = the holder's wall clock + T;
//   - the holder renews every T/4 (one command in flight at a time); a backup tries every T/5;
//   - the holder may serve only while its monotonic clock is within T*4/5 of the moment it SENT
//     its last confirmed renewal (the serving window). valid() answers that at the instant it is
//     asked — the node asks before every answer it sends, so a process waking from a stall
//     (SIGSTOP, a long pause) checks before it says anything;
//   - the term ends when the serving window closes without a newer confirmation, or when a
//     renewal is refused (another holder took a new epoch, or the row ran out first): on_lost
//     runs once, on a later loop turn. release() ends it on purpose (no on_lost);
//   - the other node's try_acquire() wins only once the row's expiry has passed by ITS wall clock
//     — T after the holder's last renewal was sent, T/5 after the holder stopped serving at the
//     latest — or at once after a release. Clocks of the two hosts must agree within T/5.
// On a grant, PairLease sets the store's fence to the new term before the callback runs, so
// every commit after it is checked against this epoch: a deposed holder can never commit.
//
// Loop thread only; every callback runs on a later loop turn, never inside the call.
#pragma once

#include <uv.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "node/store/store.h"
#include "protocol/net/timer.h"
#include "protocol/result.h"

namespace ix::node {

struct LeaseTiming {
  uint64_t ttl_ms = 0;    // the row's expiry after each grant or renewal: lease-timeout
  uint64_t renew_ms = 0;  // how often the holder renews (and the backup tries): lease-timeout / 4
  uint64_t serve_ms = 0;  // the serving window after a confirmed renewal's send: lease-timeout * 4/5
  uint64_t try_ms = 0;    // how often a backup tries to take it: lease-timeout / 5, so that it
                          // serves within lease-timeout + one renewal interval of the last renewal

  static constexpr LeaseTiming from_timeout(uint64_t lease_timeout_ms) {
    return {lease_timeout_ms, std::max<uint64_t>(1, lease_timeout_ms / 4), lease_timeout_ms * 4 / 5,
            std::max<uint64_t>(1, lease_timeout_ms / 5)};
  }
};

class Lease {
 public:
  // The acquire command's outcome: outcome.granted says whether this node holds the lease now;
  // outcome.previous is the row as the command found it (who held it, until when).
  using AcquireCallback = std::function<void(Result<LeaseOutcome>)>;
  using ReleaseCallback = std::function<void(Status)>;
  using LostCallback = std::function<void(const std::string& why)>;

  virtual ~Lease() = default;

  // Tries once to take the lease: granted when the row is free, released, run out, or already
  // this holder's (an extension, same epoch). On a grant the term starts: epoch(), the store's
  // fence and renewals are set before done runs. An error: the store could not run the command.
  virtual void try_acquire(AcquireCallback done) = 0;
  // Ends the term at once: valid() is false from this call on, renewals stop, and the row is
  // written with the holder cleared and expiry now, so the other node's next try wins without
  // waiting for expiry. done runs once the row is written (or the store failed).
  virtual void release(ReleaseCallback done) = 0;
  // Called once per term when it ends without release() (see the timing above).
  virtual void set_on_lost(LostCallback cb) = 0;
  // Called after every confirmed renewal (for metrics).
  virtual void set_on_renewed(std::function<void()> cb) = 0;

  // A term is running: granted, and neither lost nor released.
  virtual bool held() const = 0;
  // Held, and the monotonic clock is inside the serving window right now.
  virtual bool valid() const = 0;
  // The current (or last) term's epoch; 0 before the first grant.
  virtual uint64_t epoch() const = 0;
  // Who this node is in the lease row (unique per process).
  virtual const std::string& holder() const = 0;
  virtual const LeaseTiming& timing() const = 0;

  // Counters for metrics: renewals confirmed, terms lost (not released).
  virtual uint64_t renewals() const = 0;
  virtual uint64_t losses() const = 0;
};

// The pair lease on a Store's lease table. The store must outlive it.
class PairLease final : public Lease {
 public:
  PairLease(uv_loop_t* loop, Store& store, std::string holder, LeaseTiming timing);
  ~PairLease() override;
  PairLease(const PairLease&) = delete;
  PairLease& operator=(const PairLease&) = delete;

  void try_acquire(AcquireCallback done) override;
  void release(ReleaseCallback done) override;
  void set_on_lost(LostCallback cb) override { on_lost_ = std::move(cb); }
  void set_on_renewed(std::function<void()> cb) override { on_renewed_ = std::move(cb); }
  bool held() const override { return held_; }
  bool valid() const override;
  uint64_t epoch() const override { return epoch_; }
  const std::string& holder() const override { return holder_; }
  const LeaseTiming& timing() const override { return timing_; }
  uint64_t renewals() const override { return renewals_; }
  uint64_t losses() const override { return losses_; }

 private:
  // What the loop's callbacks need after this object is gone (store completions come later).
  struct Alive {
    PairLease* lease;
  };
  void start_term(uint64_t epoch, uint64_t sent_ns);
  void renew();
  void on_renewed(uint64_t term, uint64_t sent_ns, Result<LeaseOutcome> outcome);
  void check_window();
  void lose(const std::string& why);
  LeaseCommand command(LeaseOp op) const;

  uv_loop_t* loop_;
  Store& store_;
  std::string holder_;
  LeaseTiming timing_;
  net::Timer renew_timer_;
  net::Timer window_timer_;
  bool held_ = false;
  bool renewing_ = false;      // one renewal in flight at a time
  uint64_t term_ = 0;          // counts this object's terms, so late answers of an old one are ignored
  uint64_t epoch_ = 0;
  uint64_t confirmed_sent_ns_ = 0;  // monotonic (uv_hrtime) send time of the last confirmed grant/renewal
  uint64_t renewals_ = 0;
  uint64_t losses_ = 0;
  LostCallback on_lost_;
  std::function<void()> on_renewed_;
  std::shared_ptr<Alive> alive_ = std::make_shared<Alive>(Alive{this});
};

}  // namespace ix::node
