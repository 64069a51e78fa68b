// Certificates: the simulator's own TLS identity in its state directory — a CA (ca.pem) and a
// server certificate for 127.0.0.1 and localhost signed by it (cert.pem, key.pem). Generated
// with BoringSSL at the first start and reused on every later one, so that a client configured
// with the CA file (the example's [pacing] ca-file) keeps trusting the simulator across restarts.
//
// Plain functions on the caller's thread, at startup.
#pragma once

#include <string>

#include "protocol/result.h"

namespace ix::engage {

struct CertificatePaths {
  std::string ca_file;    // absolute
  std::string cert_file;  // absolute
  std::string key_file;   // absolute, mode 0600
  bool generated = false; // made now rather than found
};

// Creates the directory if needed; generates all three files when none exists, reuses them when
// all three exist, and refuses a directory holding only some of them (it says which to remove).
Result<CertificatePaths> ensure_certificates(const std::string& state_dir);

}  // namespace ix::engage
