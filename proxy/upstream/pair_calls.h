// PairCalls: the seam between the request handlers and the node pairs — how a handler asks a
// pair something and gets its answer. The handlers scatter and gather only through it, so they
// run the same against the real links (LinkPairCalls, proxy/upstream/link_pair_calls.h) and
// against fake pairs giving scripted replies in tests (tests/proxy/support/fake_pair_calls.h),
// the way mcrouter tests its routes against fake children.
//
// Every callback runs exactly once and never from inside the call that was given it: an answer
// that is known at once (the pair is unreachable, there was nothing to ask) comes on a later
// loop turn (STYLE.md). Single-threaded on the owning worker's loop.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "proxy/route/pair_answer.h"
#include "proxy/route/routing_table.h"
#include "proxy/server/outgoing.h"
#include "proxy/upstream/node_link.h"

namespace ix::proxy {

class PairCalls {
 public:
  using Done = std::function<void(PairAnswer)>;
  using AnswersDone = std::function<void(std::vector<PairAnswer>)>;
  // The node's reply as it came (valid only during the callback), for the fast path that
  // re-addresses it to the client without unpacking.
  using ReplyView = std::function<void(const UpstreamReply&)>;

  virtual ~PairCalls() = default;

  // One more than the highest PairIndex the calls know (RoutingTable::slot_count()); a slot
  // whose pair a reload removed is never reachable.
  virtual size_t slot_count() const = 0;
  // The pair has a primary this worker can reach, or is handing over to its next one (PairLink).
  virtual bool reachable(PairIndex pair) = 0;
  // Why the pair cannot be asked, naming both nodes' states.
  virtual std::string unreachable_reason(PairIndex pair) = 0;
  // Sends request to the pair's primary under upstream_client, with a deadline of timeout_ms
  // (0: the request-timeout). done gets the reply, the node's refusal, or 2002.
  virtual void ask(PairIndex pair, const Outgoing& request, uint64_t upstream_client, Done done,
                   uint64_t timeout_ms = 0) = 0;
  // The single-pair fast path. Returns false, without sending and without calling on_reply,
  // when the pair has no primary and is not handing over (the caller answers the client with
  // the code that fits).
  virtual bool forward(PairIndex pair, const Outgoing& request, uint64_t upstream_client, ReplyView on_reply) = 0;
  // Runs fn on a later turn of the loop.
  virtual void defer(std::function<void()> fn) = 0;

  // Per slot: reachable(pair).
  std::vector<bool> reachable();
  // The pairs that are reachable now.
  PairSet reachable_pairs();
  // Sends request to every pair in pairs; done runs once with every answer, in pairs' order.
  void ask_all(const PairSet& pairs, const Outgoing& request, uint64_t upstream_client, AnswersDone done,
               uint64_t timeout_ms = 0);
  // The same with a request of its own for each pair; answers in the order of requests.
  void ask_each(std::vector<std::pair<PairIndex, Outgoing>> requests, uint64_t upstream_client, AnswersDone done,
                uint64_t timeout_ms = 0);

 protected:
  // A request went to `width` pairs at once (for the fan-out metric).
  virtual void fanned_out(size_t width) { (void)width; }
};

}  // namespace ix::proxy
