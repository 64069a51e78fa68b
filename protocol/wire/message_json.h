// A verified message as JSON, for people and scripts (ixctl --json, ixctl tail, the simulator's
// reports). Generic over the whole schema: the FlatBuffers mini-reflection tables that flatc
// generates (--reflect-names) walk any message, so a field added to the schema shows up here
// without code. Fields left at their default are not on the wire and do not appear.
#pragma once

#include <nlohmann/json.hpp>
#include <span>

#include "protocol/wire/ixcluster_generated.h"

namespace ix::wire {

// {"type": "EventSubmitted", "ref_id": 7, "interaction_id": "p1-…", …}: the body's fields with
// its message name and the envelope's ref_id (and client_id when set).
nlohmann::json message_json(std::span<const uint8_t> verified_payload);

}  // namespace ix::wire
