// PortsFile: the ports a process actually listens on, in a small file an operator's tooling (or
// a test) reads. An endpoint configured with port 0 lets the operating system choose; ixnode and
// ixproxy started with `--ports-file PATH` write
//
//   {"port": 40321, "admin-port": 40322}
//
// to PATH once both ports are listening. The file is written next to PATH and renamed over it,
// so a reader sees either no file or the whole of it — never a half-written one.
//
// Plain functions on the caller's thread; no state.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace ix::config {

struct BoundPorts {
  uint16_t port = 0;        // the protocol port
  uint16_t admin_port = 0;  // the admin HTTP port
};

// Writes the file atomically; false (with errno set by the failing call) if it could not.
bool write_ports_file(const std::string& path, const BoundPorts& ports);

// The ports in the file; nullopt while there is no file, or if it is not one this code wrote.
std::optional<BoundPorts> read_ports_file(const std::string& path);

}  // namespace ix::config
