// wait_for_ports(): the ports a real ixnode/ixproxy reports through --ports-file once it listens
// (the fixtures start them with port 0 in the configuration, so the OS chooses). Waits until the
// file appears, the process ends, or the deadline passes.
//
// Runs on the test's thread.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>

#include "cluster-config/ports_file.h"
#include "tests/support/eventually.h"
#include "tests/support/process.h"

namespace ix::test {

// The reported ports; nullopt if the process ended (or the time passed) without reporting.
inline std::optional<config::BoundPorts> wait_for_ports(Process& process, const std::filesystem::path& file,
                                                        std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
  std::optional<config::BoundPorts> ports;
  eventually([&] {
    ports = config::read_ports_file(file.string());
    return ports || !process.running();
  }, timeout, std::chrono::milliseconds(5));
  return ports;
}

}  // namespace ix::test
