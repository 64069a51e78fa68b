// ClientSession: one client connection as the interaction service sees it — where its replies
// and events go (ReportingChannel, which the reporting hub also uses), what kind of client it
// registered as, how far its output has backed up. The process shell (NodeServer) implements it
// over a socket's MessageChannel; in-process tests implement it with a recording session. The
// service and ReportingHub keep pointers to open sessions only: the shell tells the service
// when one closes. Loop thread only.
#pragma once

#include "node/reporting/reporting_channel.h"
#include "protocol/wire/messages.h"

namespace ix::node {

class ClientSession : public ReportingChannel {
 public:
  virtual proto::ClientType client_type() const = 0;
};

}  // namespace ix::node
