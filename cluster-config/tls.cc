#include "cluster-config/tls.h"

namespace ix::config {

Result<std::shared_ptr<net::TlsContext>> server_tls(const TlsSettings& settings) {
  net::TlsOptions options;
  options.cert_file = settings.cert_file;
  options.key_file = settings.key_file;
  options.ca_file = settings.ca_file;
  options.require_client_cert = settings.require_client_cert;
  return net::TlsContext::create_server(options);
}

Result<std::shared_ptr<net::TlsContext>> client_tls(const TlsSettings& server_tls, const LinkTls& identity) {
  net::TlsOptions options;
  options.ca_file = server_tls.ca_file.empty() ? server_tls.cert_file : server_tls.ca_file;
  options.verify_peer = true;
  options.cert_file = identity.cert_file;
  options.key_file = identity.key_file;
  return net::TlsContext::create_client(options);
}

}  // namespace ix::config
