#include "proxy/requests/lease_request.h"

#include "protocol/wire/lease.h"

namespace ix::proxy {

namespace {

Error no_primary(RequestContext& ctx, PairIndex pair) {
  return wire::make_error(proto::ErrorCode::ClusterLostConnection,
                          "lease pair " + ctx.table->pair_id(pair) + " cannot be asked: " + ctx.calls.unreachable_reason(pair));
}

}  // namespace

std::optional<PairIndex> lease_pair(const RoutingTable& table) {
  const config::ClusterConfig& config = table.config();
  if (config.pacing && !config.pacing->lease_pair.empty()) return table.index_of(config.pacing->lease_pair);
  if (table.all_pairs().empty()) return std::nullopt;
  return table.all_pairs().front();
}

void handle_lease(RequestContext& ctx, const Call& call, const proto::Envelope& envelope, Outgoing request) {
  if (Status ok = wire::check_lease_request(*envelope.body_as_RequestLease()); !ok) {
    return ctx.replies.reply_error(call, ok.error());
  }
  std::optional<PairIndex> pair = lease_pair(*ctx.table);
  if (!pair) {
    return ctx.replies.reply_error(call, wire::make_error(proto::ErrorCode::ClusterNoServerForMedia, "the cluster has no node pair to hold leases"));
  }
  if (!ctx.forward(call, *pair, request)) ctx.replies.reply_error(call, no_primary(ctx, *pair));
}

void ask_lease(RequestContext& ctx, const LeaseRequest& request, LeaseDone done) {
  proto::RequestLeaseT body;
  body.name = request.name;
  body.holder = request.holder;
  body.operation = request.operation;
  body.ttl_ms = request.ttl_ms;
  Outgoing outgoing = Outgoing::of(body);
  // Checked on the request as it will be sent, by the same function the node uses.
  wire::Frame frame = outgoing.encode(0, 0);
  const proto::Envelope* envelope = proto::GetEnvelope(frame.data() + wire::kFrameHeaderSize);
  Status ok = wire::check_lease_request(*envelope->body_as_RequestLease());
  std::optional<PairIndex> pair = lease_pair(*ctx.table);
  if (!ok || !pair) {
    Error error = !ok ? ok.error() : wire::make_error(proto::ErrorCode::ClusterNoServerForMedia, "the cluster has no node pair to hold leases");
    return ctx.calls.defer([done = std::move(done), error = std::move(error)] { done(error); });
  }
  // ask() answers an unreachable pair on a later turn with 2002 naming both nodes' states.
  ctx.calls.ask(*pair, outgoing, 0, [done = std::move(done)](PairAnswer answer) {
    if (answer.kind != PairAnswer::Kind::kReply) return done(answer.error);
    const proto::EventLease* lease = answer.envelope()->body_as_EventLease();
    if (lease == nullptr) {
      return done(wire::make_error(proto::ErrorCode::Internal, "the lease pair answered " +
                                                                   wire::message_name(answer.envelope()->body_type()) +
                                                                   " to RequestLease"));
    }
    proto::EventLeaseT out;
    lease->UnPackTo(&out);
    done(std::move(out));
  });
}

}  // namespace ix::proxy
