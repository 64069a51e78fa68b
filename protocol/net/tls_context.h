// TlsContext: one BoringSSL SSL_CTX configured for a listener (server) or a connector (client).
//
// Built once at startup or reload from TlsOptions and shared, read-only, by every connection of
// that listener or connector (SSL_CTX is reference counted and safe to share across threads).
// Certificates and keys come from PEM files or PEM text; errors name the file and BoringSSL's
// reason.
#pragma once

#include <memory>
#include <string>

#include "protocol/result.h"

struct ssl_ctx_st;

namespace ix::net {

struct TlsOptions {
  // Our certificate chain and private key: required for servers, optional for clients (client
  // certificates). Either files or PEM text.
  std::string cert_file;
  std::string key_file;
  std::string cert_pem;
  std::string key_pem;
  // Trusted CA certificates: a client verifies the server with them; a server verifies client
  // certificates with them.
  std::string ca_file;
  std::string ca_pem;
  // Client: verify the server's certificate (and name, when server_name is set).
  bool verify_peer = true;
  // Server: refuse clients that present no valid certificate.
  bool require_client_cert = false;
  // Client: the name sent as SNI and checked against the server's certificate.
  std::string server_name;
};

class TlsContext {
 public:
  static Result<std::shared_ptr<TlsContext>> create_server(const TlsOptions& options);
  static Result<std::shared_ptr<TlsContext>> create_client(const TlsOptions& options);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  ssl_ctx_st* native() const { return ctx_; }
  bool is_server() const { return server_; }
  const std::string& server_name() const { return server_name_; }

 private:
  TlsContext(ssl_ctx_st* ctx, bool server, std::string server_name)
      : ctx_(ctx), server_(server), server_name_(std::move(server_name)) {}

  ssl_ctx_st* ctx_;
  bool server_;
  std::string server_name_;
};

// The most recent BoringSSL error on this thread as text (and clears the error queue).
std::string last_tls_error();

}  // namespace ix::net
