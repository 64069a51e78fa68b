#include "proxy/requests/tenant_pairs.h"

#include "protocol/wire/messages.h"

namespace ix::proxy {

Error missing_attribute(proto::Message request, const char* attribute) {
  return wire::make_error(proto::ErrorCode::MissingAttribute,
                          wire::message_name(request) + "." + attribute + " is required to route the request");
}

Result<PairSet> tenant_pairs(const RoutingTable& table, proto::Message request, const std::string& tenant) {
  if (tenant.empty()) return missing_attribute(request, "tenant_id");
  if (!table.tenant_known(tenant)) {
    return wire::make_error(proto::ErrorCode::InvalidAttribute,
                            wire::message_name(request) + ".tenant_id \"" + tenant + "\" is not a tenant of this cluster");
  }
  PairSet pairs = table.pairs_for_tenant(tenant);
  if (pairs.empty()) {
    return wire::make_error(proto::ErrorCode::ClusterNoServerForMedia, "no node pair serves tenant \"" + tenant + "\"");
  }
  return pairs;
}

}  // namespace ix::proxy
