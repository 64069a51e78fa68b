// PortsFile: see ports_file.h.
#include "cluster-config/ports_file.h"

#include <cstdio>
#include <fstream>
#include <sstream>

namespace ix::config {
namespace {

// The integer after "key": in the text, if it is a port.
std::optional<uint16_t> port_after(const std::string& text, const std::string& key) {
  const std::string quoted = "\"" + key + "\":";
  const size_t at = text.find(quoted);
  if (at == std::string::npos) return std::nullopt;
  size_t i = at + quoted.size();
  while (i < text.size() && text[i] == ' ') ++i;
  uint32_t value = 0;
  size_t digits = 0;
  for (; i < text.size() && text[i] >= '0' && text[i] <= '9' && digits < 6; ++i, ++digits) value = value * 10 + (text[i] - '0');
  if (digits == 0 || value == 0 || value > 65535) return std::nullopt;
  return static_cast<uint16_t>(value);
}

}  // namespace

bool write_ports_file(const std::string& path, const BoundPorts& ports) {
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << "{\"port\": " << ports.port << ", \"admin-port\": " << ports.admin_port << "}\n";
    out.flush();
    if (!out) return false;
  }
  return std::rename(temporary.c_str(), path.c_str()) == 0;
}

std::optional<BoundPorts> read_ports_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream text;
  text << in.rdbuf();
  const std::optional<uint16_t> port = port_after(text.str(), "port");
  const std::optional<uint16_t> admin = port_after(text.str(), "admin-port");
  if (!port || !admin) return std::nullopt;
  return BoundPorts{*port, *admin};
}

}  // namespace ix::config
