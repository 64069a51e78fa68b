// LinkPairCalls: PairCalls over a worker's real PairLinks — a request goes to the pair's
// primary NodeLink (or waits in the PairLink while the pair hands over); an answer known at once
// (no primary, or a pair a reload removed: 2002 saying so) is delivered on the next loop turn
// through a zero timer, never from inside ask(). Owned by a ProxyWorker, which keeps the link list
// and the routing table (both replaced on reload); single-threaded on the worker's loop.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "protocol/http/metrics.h"
#include "protocol/net/timer.h"
#include "proxy/upstream/pair_calls.h"
#include "proxy/upstream/pair_link.h"

namespace ix::proxy {

class LinkPairCalls final : public PairCalls {
 public:
  // links: the worker's links by PairIndex (null for a slot whose pair was removed), and table,
  // the routing table they follow; both read at every call (they change on reload).
  LinkPairCalls(uv_loop_t* loop, const std::vector<PairLink*>& links, const std::shared_ptr<const RoutingTable>& table);
  // Where the width of each fan-out is observed.
  void set_fan_out_metric(metrics::Histogram& fan_out_width) { fan_out_width_ = &fan_out_width; }

  size_t slot_count() const override { return links_.size(); }
  bool reachable(PairIndex pair) override { return link(pair) && link(pair)->reachable(); }
  std::string unreachable_reason(PairIndex pair) override;
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
  PairLink* link(PairIndex pair) const { return pair < links_.size() ? links_[pair] : nullptr; }

  const std::vector<PairLink*>& links_;
  const std::shared_ptr<const RoutingTable>& table_;
  metrics::Histogram* fan_out_width_ = nullptr;
  net::Timer next_turn_;
  std::vector<std::function<void()>> deferred_;
};

}  // namespace ix::proxy
