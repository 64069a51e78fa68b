#include "protocol/net/tls_context.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <fstream>
#include <sstream>

namespace ix::net {

namespace {

Result<std::string> read_pem(const std::string& file, const std::string& text, const char* what) {
  if (!text.empty()) return text;
  std::ifstream in(file, std::ios::binary);
  if (!in) return Error{0, std::string("cannot read TLS ") + what + " file \"" + file + "\""};
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string source_name(const std::string& file, const char* what) {
  return file.empty() ? std::string(what) + " (PEM text)" : "\"" + file + "\"";
}

// Loads our certificate chain (first PEM block = leaf, the rest = chain) and private key.
Status use_identity(SSL_CTX* ctx, const TlsOptions& options) {
  auto cert_pem = read_pem(options.cert_file, options.cert_pem, "certificate");
  if (!cert_pem) return cert_pem.error();
  auto key_pem = read_pem(options.key_file, options.key_pem, "private key");
  if (!key_pem) return key_pem.error();

  bssl::UniquePtr<BIO> cert_bio(BIO_new_mem_buf(cert_pem->data(), static_cast<int>(cert_pem->size())));
  bssl::UniquePtr<X509> leaf(PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr));
  if (!leaf || SSL_CTX_use_certificate(ctx, leaf.get()) != 1) {
    return Error{0, "cannot load TLS certificate from " + source_name(options.cert_file, "certificate") +
                        ": " + last_tls_error()};
  }
  while (X509* extra = PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr)) {
    SSL_CTX_add0_chain_cert(ctx, extra);
  }
  ERR_clear_error();  // the loop above ends on a "no start line" error

  bssl::UniquePtr<BIO> key_bio(BIO_new_mem_buf(key_pem->data(), static_cast<int>(key_pem->size())));
  bssl::UniquePtr<EVP_PKEY> key(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
  if (!key) {
    return Error{0, "cannot load TLS private key from " + source_name(options.key_file, "private key") +
                        ": " + last_tls_error()};
  }
  if (SSL_CTX_use_PrivateKey(ctx, key.get()) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    return Error{0, "TLS private key " + source_name(options.key_file, "private key") +
                        " does not match the certificate: " + last_tls_error()};
  }
  return {};
}

Status use_trusted_cas(SSL_CTX* ctx, const TlsOptions& options) {
  auto ca_pem = read_pem(options.ca_file, options.ca_pem, "CA");
  if (!ca_pem) return ca_pem.error();
  bssl::UniquePtr<BIO> bio(BIO_new_mem_buf(ca_pem->data(), static_cast<int>(ca_pem->size())));
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  int loaded = 0;
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    X509_STORE_add_cert(store, cert);
    X509_free(cert);
    ++loaded;
  }
  ERR_clear_error();
  if (loaded == 0) {
    return Error{0, "no CA certificate found in " + source_name(options.ca_file, "CA")};
  }
  return {};
}

bool has_identity(const TlsOptions& o) {
  return !o.cert_file.empty() || !o.cert_pem.empty();
}
bool has_cas(const TlsOptions& o) { return !o.ca_file.empty() || !o.ca_pem.empty(); }

}  // namespace

std::string last_tls_error() {
  uint32_t code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown TLS error";
  char buffer[256];
  ERR_error_string_n(code, buffer, sizeof buffer);
  return buffer;
}

TlsContext::~TlsContext() { SSL_CTX_free(ctx_); }

Result<std::shared_ptr<TlsContext>> TlsContext::create_server(const TlsOptions& options) {
  bssl::UniquePtr<SSL_CTX> ctx(SSL_CTX_new(TLS_server_method()));
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  if (!has_identity(options)) return Error{0, "a TLS server needs a certificate and a private key"};
  if (Status s = use_identity(ctx.get(), options); !s) return s.error();
  if (options.require_client_cert && !has_cas(options)) {
    return Error{0, "requiring client certificates needs a CA to verify them with"};
  }
  if (has_cas(options)) {
    if (Status s = use_trusted_cas(ctx.get(), options); !s) return s.error();
    int mode = SSL_VERIFY_PEER;
    if (options.require_client_cert) mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    SSL_CTX_set_verify(ctx.get(), mode, nullptr);
  }
  return std::shared_ptr<TlsContext>(new TlsContext(ctx.release(), true, ""));
}

Result<std::shared_ptr<TlsContext>> TlsContext::create_client(const TlsOptions& options) {
  bssl::UniquePtr<SSL_CTX> ctx(SSL_CTX_new(TLS_client_method()));
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  if (has_identity(options)) {
    if (Status s = use_identity(ctx.get(), options); !s) return s.error();
  }
  if (options.verify_peer) {
    if (!has_cas(options)) return Error{0, "verifying the TLS server needs a CA"};
    if (Status s = use_trusted_cas(ctx.get(), options); !s) return s.error();
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  } else {
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  }
  return std::shared_ptr<TlsContext>(new TlsContext(ctx.release(), false, options.server_name));
}

}  // namespace ix::net
