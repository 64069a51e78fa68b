// ReportingChannel: where a reporting subscription's events go — a connection as the reporting
// hub sees it (send, how far its output has backed up, cut it off). The server's ClientSession
// is one; reporting knows nothing more of sessions, so this folder does not depend on server/.
// Loop thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "protocol/wire/messages.h"

namespace ix::node {

class ReportingChannel {
 public:
  virtual ~ReportingChannel() = default;

  // Sends one complete frame (from wire::encode_*).
  virtual void send(std::span<const uint8_t> frame) = 0;
  virtual void send(wire::Frame&& frame) = 0;
  virtual void send_error(uint64_t ref_id, uint64_t client_id, proto::ErrorCode code, std::string text) = 0;
  // Bytes written to the channel but not yet taken by the peer.
  virtual size_t queued_bytes() const = 0;
  // Closes the connection (a reporting client that reads too slowly); the owner of the channel
  // then reports it closed as for any other disconnect.
  virtual void disconnect(const std::string& reason) = 0;
};

}  // namespace ix::node
