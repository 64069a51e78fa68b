// TLS contexts for the proxy from the configuration's TLS sections: the server side of the
// proxy's client port, and the client side toward a node pair that speaks TLS (trusting the
// pair's CA file, or its certificate when it is self-signed; presenting the proxy's own
// certificate when the pair requires client certificates).
#pragma once

#include <memory>

#include "cluster-config/model.h"
#include "protocol/net/tls_context.h"

namespace ix::proxy {

Result<std::shared_ptr<net::TlsContext>> server_tls(const config::TlsSettings& proxy_tls);
Result<std::shared_ptr<net::TlsContext>> client_tls(const config::TlsSettings& pair_tls, const config::TlsSettings& proxy_tls);

}  // namespace ix::proxy
