// TLS contexts from the configuration's TLS sections: the server side of a node's or a proxy's
// protocol port, and the client side a proxy uses toward a node pair that speaks TLS (trusting
// the pair's CA file, or its certificate when it is self-signed; presenting the proxy's link
// certificate, [proxies.link-tls], whenever it has one — never its client-facing server
// certificate). The one file of cluster-config/ that
// uses protocol/ (library ix_cluster_tls), so that the model itself stays free of it.
#pragma once

#include <memory>

#include "cluster-config/model.h"
#include "protocol/net/tls_context.h"

namespace ix::config {

Result<std::shared_ptr<net::TlsContext>> server_tls(const TlsSettings& settings);
Result<std::shared_ptr<net::TlsContext>> client_tls(const TlsSettings& server_tls, const LinkTls& identity);

}  // namespace ix::config
