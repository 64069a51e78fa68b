// RequestLease on the node: named leases held through the pair (protocol/schema/ixcluster.fbs,
// "Named leases"), kept in the pair's lease table (node/store/lease_table.h). Like every other
// request it is served by the pair's primary only (NodeServer refuses it on a backup), and the
// lease lives in the database, so after a failover the new primary answers the same holder and
// fencing number.
//
// Loop thread only. The reply goes out on a later loop turn, when the store has run the command
// in a transaction of its own.
#pragma once

#include <functional>

#include "node/server/client_session.h"
#include "node/server/clock.h"
#include "node/store/store.h"

namespace ix::node {

// Serves one RequestLease: refuses bad input (wire::check_lease_request), otherwise runs the
// command in the store with the clock's wall-clock time and answers EventLease — or Internal
// with the store's error — if still_open() says the session is still there by then.
void handle_lease(Store& store, const Clock& clock, ClientSession& s, const proto::Envelope& e,
                  std::function<bool()> still_open);

}  // namespace ix::node
