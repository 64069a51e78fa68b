#include "node/store/lease.h"

#include <chrono>

namespace ix::node {

namespace {

constexpr uint64_t kNsPerMs = 1'000'000;

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

PairLease::PairLease(uv_loop_t* loop, Store& store, std::string holder, LeaseTiming timing)
    : loop_(loop), store_(store), holder_(std::move(holder)), timing_(timing), renew_timer_(loop), window_timer_(loop) {}

PairLease::~PairLease() { alive_->lease = nullptr; }

LeaseCommand PairLease::command(LeaseOp op) const {
  LeaseCommand c;
  c.op = op;
  c.name = kPairLeaseName;
  c.holder = holder_;
  c.ttl_ms = op == LeaseOp::kRelease ? 0 : timing_.ttl_ms;
  // Wall clock on purpose: the other node compares its own clock with the expiry written here.
  c.now_ms = wall_ms();
  return c;
}

bool PairLease::valid() const {
  return held_ && uv_hrtime() < confirmed_sent_ns_ + timing_.serve_ms * kNsPerMs;
}

void PairLease::try_acquire(AcquireCallback done) {
  // The serving window counts from before the command is sent: the row's expiry is at least T
  // after this moment, whatever the store's latency.
  const uint64_t sent_ns = uv_hrtime();
  store_.lease(command(LeaseOp::kAcquire),
               [alive = alive_, sent_ns, done = std::move(done)](Result<LeaseOutcome> outcome) {
                 PairLease* self = alive->lease;
                 if (self && outcome.ok() && outcome->granted) {
                   if (self->held_ && outcome->record.fencing == self->epoch_) {
                     self->confirmed_sent_ns_ = std::max(self->confirmed_sent_ns_, sent_ns);
                   } else {
                     self->start_term(outcome->record.fencing, sent_ns);
                   }
                 }
                 if (done) done(std::move(outcome));
               });
}

void PairLease::start_term(uint64_t epoch, uint64_t sent_ns) {
  ++term_;
  held_ = true;
  renewing_ = false;
  epoch_ = epoch;
  confirmed_sent_ns_ = sent_ns;
  store_.set_fence(Fence{kPairLeaseName, holder_, epoch});
  renew_timer_.start(timing_.renew_ms, [this] { renew(); });
  check_window();
}

void PairLease::renew() {
  if (!held_) return;
  renew_timer_.start(timing_.renew_ms, [this] { renew(); });
  if (renewing_) return;  // the last one has not come back: its store is slow; the window decides
  renewing_ = true;
  const uint64_t sent_ns = uv_hrtime();
  store_.lease(command(LeaseOp::kRenew), [alive = alive_, term = term_, sent_ns](Result<LeaseOutcome> outcome) {
    if (PairLease* self = alive->lease) self->on_renewed(term, sent_ns, std::move(outcome));
  });
}

void PairLease::on_renewed(uint64_t term, uint64_t sent_ns, Result<LeaseOutcome> outcome) {
  if (term != term_ || !held_) return;  // an answer for a term that has ended
  renewing_ = false;
  if (!outcome.ok()) {
    // Not confirmed; the next renewal may be. If none is in time, the window closes.
    return;
  }
  if (!outcome->granted) {
    const LeaseRecord& r = outcome->record;
    lose(r.holder.empty() ? "the lease ran out before it was renewed (epoch " + std::to_string(epoch_) + ")"
                          : "the lease is held by " + r.holder + " at epoch " + std::to_string(r.fencing));
    return;
  }
  ++renewals_;
  confirmed_sent_ns_ = std::max(confirmed_sent_ns_, sent_ns);
  if (on_renewed_) on_renewed_();
}

void PairLease::check_window() {
  if (!held_) return;
  const uint64_t now = uv_hrtime();
  const uint64_t closes = confirmed_sent_ns_ + timing_.serve_ms * kNsPerMs;
  if (now >= closes) {
    lose("no renewal confirmed within " + std::to_string(timing_.serve_ms) + " ms (lease-timeout " +
         std::to_string(timing_.ttl_ms) + " ms)");
    return;
  }
  window_timer_.start((closes - now + kNsPerMs - 1) / kNsPerMs, [this] { check_window(); });
}

void PairLease::lose(const std::string& why) {
  if (!held_) return;
  held_ = false;
  renewing_ = false;
  ++term_;
  ++losses_;
  renew_timer_.stop();
  window_timer_.stop();
  if (on_lost_) on_lost_(why);
}

void PairLease::release(ReleaseCallback done) {
  held_ = false;
  renewing_ = false;
  ++term_;
  renew_timer_.stop();
  window_timer_.stop();
  store_.lease(command(LeaseOp::kRelease), [done = std::move(done)](Result<LeaseOutcome> outcome) {
    if (!done) return;
    if (!outcome.ok()) return done(outcome.error());
    done(Status{});
  });
}

}  // namespace ix::node
