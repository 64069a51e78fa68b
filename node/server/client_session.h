// ClientSession: one client connection as the interaction service sees it — where its replies
// and events go, what kind of client it registered as, how far its output has backed up. The
// process shell (NodeServer) implements it over a socket's MessageChannel; in-process tests
// implement it with a recording session. The service and ReportingHub keep pointers to open
// sessions only: the shell tells the service when one closes. Loop thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "protocol/wire/messages.h"

namespace ix::node {

class ClientSession {
 public:
  virtual ~ClientSession() = default;

  // Sends one complete frame (from wire::encode_*).
  virtual void send(std::span<const uint8_t> frame) = 0;
  virtual void send(wire::Frame&& frame) = 0;
  virtual void send_error(uint64_t ref_id, uint64_t client_id, proto::ErrorCode code, std::string text) = 0;
  virtual proto::ClientType client_type() const = 0;
  // Bytes written to the session but not yet taken by the peer.
  virtual size_t queued_bytes() const = 0;
  // Closes the connection (a reporting client that reads too slowly); the shell then reports
  // the session closed as for any other disconnect.
  virtual void disconnect(const std::string& reason) = 0;
};

}  // namespace ix::node
