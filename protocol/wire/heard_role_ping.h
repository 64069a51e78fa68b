// The ping a proxy sends a node that announced Backup (a planned switchover) on the same
// connection: everything the proxy sent that node before it heard the announcement is ahead of
// this ping, so the node stops serving once every proxy's has arrived (node/server/node_server.h).
// It carries kHeardRoleKey = "backup" in its envelope's extension; a probe's ping carries none.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "protocol/wire/kv.h"
#include "protocol/wire/messages.h"

namespace ix::wire {

inline constexpr std::string_view kHeardRoleKey = "heard-role";

inline Frame encode_heard_backup_ping(uint64_t ref_id) {
  proto::KvListT extension;
  kv_set(extension, KvEntry(std::string(kHeardRoleKey), std::string("backup")));
  return encode_frame(ref_id, 0, proto::RequestPingT{}, &extension);
}

inline bool is_heard_backup_ping(const proto::Envelope& e) {
  return e.body_type() == proto::Message::RequestPing && kv_string(e.extension(), kHeardRoleKey) == "backup";
}

}  // namespace ix::wire
