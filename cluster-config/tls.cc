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

Result<std::shared_ptr<net::TlsContext>> client_tls(const TlsSettings& pair_tls, const TlsSettings& proxy_tls) {
  net::TlsOptions options;
  options.ca_file = pair_tls.ca_file.empty() ? pair_tls.cert_file : pair_tls.ca_file;
  options.verify_peer = true;
  if (pair_tls.require_client_cert && proxy_tls.enabled) {
    options.cert_file = proxy_tls.cert_file;
    options.key_file = proxy_tls.key_file;
  }
  return net::TlsContext::create_client(options);
}

}  // namespace ix::config
