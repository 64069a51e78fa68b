// LinkPairCalls: PairCalls over a worker's real PairLinks — a request goes to the pair's
// primary NodeLink (or waits in the PairLink while the pair hands over); an answer known at once (no primary) is delivered on the next loop turn
// through a zero timer, never from inside ask(). Owned by a ProxyWorker, which keeps the link
// list (rebuilt on reload); single-threaded on the worker's loop.
#pragma once

#include <uv.h>

#include <functional>
#include <vector>

#include "protocol/http/metrics.h"
#include "protocol/net/timer.h"
#include "proxy/upstream/pair_calls.h"
#include "proxy/upstream/pair_link.h"

namespace ix::proxy {

class LinkPairCalls final : public PairCalls {
 public:
  // links: the worker's links by PairIndex, read at every call (it changes on reload).
  LinkPairCalls(uv_loop_t* loop, const std::vector<PairLink*>& links);
  // Where the width of each fan-out is observed.
  void set_fan_out_metric(metrics::Histogram& fan_out_width) { fan_out_width_ = &fan_out_width; }

  size_t pair_count() const override { return links_.size(); }
  bool reachable(PairIndex pair) override { return links_[pair]->reachable(); }
  std::string unreachable_reason(PairIndex pair) override { return links_[pair]->unreachable_reason(); }
  void ask(PairIndex pair, const Outgoing& request, uint64_t upstream_client, Done done, uint64_t timeout_ms = 0) override;
  bool forward(PairIndex pair, const Outgoing& request, uint64_t upstream_client, ReplyView on_reply) override;
  void defer(std::function<void()> fn) override;
  using PairCalls::reachable;

 protected:
  void fanned_out(size_t width) override {
    if (fan_out_width_) fan_out_width_->observe(static_cast<double>(width));
  }

 private:
  void run_deferred();

  const std::vector<PairLink*>& links_;
  metrics::Histogram* fan_out_width_ = nullptr;
  net::Timer next_turn_;
  std::vector<std::function<void()>> deferred_;
};

}  // namespace ix::proxy
