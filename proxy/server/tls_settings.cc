#include "proxy/server/tls_settings.h"

namespace ix::proxy {

Result<std::shared_ptr<net::TlsContext>> server_tls(const config::TlsSettings& proxy_tls) {
  net::TlsOptions options;
  options.cert_file = proxy_tls.cert_file;
  options.key_file = proxy_tls.key_file;
  options.ca_file = proxy_tls.ca_file;
  options.require_client_cert = proxy_tls.require_client_cert;
  return net::TlsContext::create_server(options);
}

Result<std::shared_ptr<net::TlsContext>> client_tls(const config::TlsSettings& pair_tls, const config::TlsSettings& proxy_tls) {
  net::TlsOptions options;
  options.ca_file = pair_tls.ca_file.empty() ? pair_tls.cert_file : pair_tls.ca_file;
  options.verify_peer = true;
  if (pair_tls.require_client_cert && proxy_tls.enabled) {
    options.cert_file = proxy_tls.cert_file;
    options.key_file = proxy_tls.key_file;
  }
  return net::TlsContext::create_client(options);
}

}  // namespace ix::proxy
