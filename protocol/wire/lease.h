// Named leases on the wire (RequestLease / EventLease, protocol/schema/ixcluster.fbs): the limits
// and the one check of a request, shared by the node (which serves it) and the proxy (which
// refuses bad input before asking a pair). Pure functions; any thread.
#pragma once

#include <cstdint>
#include <string>

#include "protocol/result.h"
#include "protocol/wire/ixcluster_generated.h"
#include "protocol/wire/messages.h"

namespace ix::wire {

// The longest time to live a lease may ask for: a holder that dies keeps everyone else waiting
// at most this long.
inline constexpr uint32_t kMaxLeaseTtlMs = 10 * 60 * 1000;
inline constexpr size_t kMaxLeaseNameBytes = 256;

inline const char* lease_operation_name(proto::LeaseOperation op) {
  switch (op) {
    case proto::LeaseOperation::Acquire: return "acquire";
    case proto::LeaseOperation::Renew: return "renew";
    case proto::LeaseOperation::Release: return "release";
  }
  return "unknown";
}

// Success, or the error that names the field: a missing or empty name or holder is
// MissingAttribute; an over-long one, an unknown operation, or (to acquire or renew) a ttl_ms of
// 0 or above kMaxLeaseTtlMs is InvalidAttribute.
inline Status check_lease_request(const proto::RequestLease& r) {
  for (auto [field, value] : {std::pair{"name", r.name()}, std::pair{"holder", r.holder()}}) {
    if (value == nullptr || value->size() == 0) {
      return make_error(proto::ErrorCode::MissingAttribute, std::string("RequestLease.") + field + " must not be empty");
    }
    if (value->size() > kMaxLeaseNameBytes) {
      return make_error(proto::ErrorCode::InvalidAttribute, std::string("RequestLease.") + field + " is longer than " +
                                                                std::to_string(kMaxLeaseNameBytes) + " bytes");
    }
  }
  const auto op = r.operation();
  if (op != proto::LeaseOperation::Acquire && op != proto::LeaseOperation::Renew && op != proto::LeaseOperation::Release) {
    return make_error(proto::ErrorCode::InvalidAttribute,
                      "RequestLease.operation " + std::to_string(static_cast<int>(op)) + " is not acquire, renew or release");
  }
  if (op != proto::LeaseOperation::Release && (r.ttl_ms() == 0 || r.ttl_ms() > kMaxLeaseTtlMs)) {
    return make_error(proto::ErrorCode::InvalidAttribute, "RequestLease.ttl_ms " + std::to_string(r.ttl_ms()) +
                                                              " is out of range: " + lease_operation_name(op) +
                                                              " needs 1.." + std::to_string(kMaxLeaseTtlMs) + " ms");
  }
  return {};
}

}  // namespace ix::wire
