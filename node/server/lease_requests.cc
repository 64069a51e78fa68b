#include "node/server/lease_requests.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "protocol/wire/lease.h"

namespace ix::node {

namespace {

LeaseOp lease_op(proto::LeaseOperation op) {
  switch (op) {
    case proto::LeaseOperation::Renew: return LeaseOp::kRenew;
    case proto::LeaseOperation::Release: return LeaseOp::kRelease;
    case proto::LeaseOperation::Acquire: break;
  }
  return LeaseOp::kAcquire;
}

}  // namespace

void handle_lease(Store& store, const Clock& clock, ClientSession& s, const proto::Envelope& e,
                  std::function<bool()> still_open) {
  const proto::RequestLease* r = e.body_as_RequestLease();
  if (Status ok = wire::check_lease_request(*r); !ok) {
    return s.send_error(e.ref_id(), e.client_id(), static_cast<proto::ErrorCode>(ok.error().code), ok.error().text);
  }
  LeaseCommand command;
  command.op = lease_op(r->operation());
  command.name = r->name()->str();
  command.holder = r->holder()->str();
  command.ttl_ms = command.op == LeaseOp::kRelease ? 0 : r->ttl_ms();
  // Wall clock on purpose: the other node of the pair compares its own clock with this expiry.
  command.now_ms = clock.now_us() / 1000;
  const uint64_t ref_id = e.ref_id(), client_id = e.client_id();
  const proto::LeaseOperation op = r->operation();
  store.lease(command, [session = &s, still_open = std::move(still_open), ref_id, client_id, op,
                        now_ms = command.now_ms, requester = command.holder](Result<LeaseOutcome> outcome) {
    if (outcome.ok() && outcome->changed) {
      // Renewals come every third of a lease's ttl: worth a line only when debugging.
      spdlog::log(op == proto::LeaseOperation::Renew ? spdlog::level::debug : spdlog::level::info,
                  "event=lease_{} name={} requester={} holder={} fencing={}", wire::lease_operation_name(op),
                  outcome->record.name, requester, outcome->record.holder, outcome->record.fencing);
    }
    if (!still_open()) return;  // the client is gone; the lease stands as decided
    if (!outcome.ok()) {
      return session->send_error(ref_id, client_id, proto::ErrorCode::Internal,
                                 "the lease table could not be written: " + outcome.error().text);
    }
    const LeaseRecord& record = outcome->record;
    proto::EventLeaseT reply;
    reply.name = record.name;
    reply.holder = record.holder;
    reply.fencing = record.fencing;
    reply.ttl_left_ms = record.holder.empty()
                            ? 0
                            : static_cast<uint32_t>(std::clamp<int64_t>(record.expires_ms - now_ms, 0, wire::kMaxLeaseTtlMs));
    reply.granted = outcome->granted;
    session->send(wire::encode_frame(ref_id, client_id, reply));
  });
}

}  // namespace ix::node
