#include "tools/ixengage/certificates.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "protocol/net/certificate_authority.h"

namespace ix::engage {

namespace {

namespace fs = std::filesystem;

// Written next to the target and renamed over it: a reader never sees half a file.
Status write_file(const fs::path& path, const std::string& text, bool secret) {
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return Error{0, "cannot write " + tmp.string()};
    out << text;
    if (!out.flush()) return Error{0, "cannot write " + tmp.string()};
  }
  if (secret) ::chmod(tmp.c_str(), 0600);
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return Error{0, "cannot rename " + tmp.string() + " to " + path.string() + ": " + ec.message()};
  return {};
}

Status generate(const CertificatePaths& paths) {
  auto ca = net::CertificateAuthority::create("ixengage local CA", 3650);
  if (!ca) return ca.error();
  auto server = ca->issue("localhost", "DNS:localhost,IP:127.0.0.1", 825);
  if (!server) return server.error();
  // The key first and the CA last: a directory with ca.pem in it is a complete one.
  if (Status s = write_file(paths.key_file, server->key_pem, true); !s) return s;
  if (Status s = write_file(paths.cert_file, server->cert_pem, false); !s) return s;
  return write_file(paths.ca_file, ca->pem(), false);
}

}  // namespace

Result<CertificatePaths> ensure_certificates(const std::string& state_dir) {
  std::error_code ec;
  fs::create_directories(state_dir, ec);
  if (ec) return Error{0, "cannot create the state directory " + state_dir + ": " + ec.message()};
  const fs::path dir = fs::absolute(state_dir, ec).lexically_normal();
  CertificatePaths paths{(dir / "ca.pem").string(), (dir / "cert.pem").string(), (dir / "key.pem").string(), false};
  const bool have[] = {fs::exists(paths.ca_file), fs::exists(paths.cert_file), fs::exists(paths.key_file)};
  if (have[0] && have[1] && have[2]) return paths;
  if (have[0] || have[1] || have[2]) {
    return Error{0, "the state directory " + dir.string() +
                        " holds only some of ca.pem, cert.pem and key.pem; remove them to generate a new CA "
                        "(clients must then trust the new ca.pem)"};
  }
  if (Status s = generate(paths); !s) return s.error();
  paths.generated = true;
  return paths;
}

}  // namespace ix::engage
