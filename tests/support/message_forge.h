// MessageForge: builds any message of the schema from the mini-reflection tables flatc generates,
// so tests can walk every message type (proto::MessageTypeTable()) without a hand-written list
// and fill its fields generically: every string field, every vector of strings, every KvList,
// every scalar — with what a hostile or careless client would send. A message added to the schema
// is forged too, with no change here. Pure functions; any thread.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "protocol/wire/frame_codec.h"
#include "protocol/wire/ixcluster_generated.h"

namespace ix::test {

// The table type of a message's body.
inline const flatbuffers::TypeTable* body_type_table(proto::Message type) {
  const flatbuffers::TypeTable* message = proto::MessageTypeTable();
  const auto index = static_cast<size_t>(type);
  if (index == 0 || index >= message->num_elems) return nullptr;
  const flatbuffers::TypeCode code = message->type_codes[index];
  return code.sequence_ref < 0 ? nullptr : message->type_refs[code.sequence_ref]();
}

// The index of a field named `name` in `table`, or -1.
inline int field_index(const flatbuffers::TypeTable* table, const std::string& name) {
  for (size_t i = 0; table && table->names && i < table->num_elems; ++i) {
    if (name == table->names[i]) return static_cast<int>(i);
  }
  return -1;
}

// What to put in a forged message's fields. Unset members leave those fields absent.
struct FieldFill {
  std::optional<std::string> strings;     // every string field, and every vector of strings (one element)
  std::optional<proto::KvListT> kv_lists; // every KvList field
  std::optional<uint64_t> scalars;        // every scalar field (truncated to its width)
  bool empty_tables = false;              // every other table field: present with no fields
  std::vector<std::pair<std::string, std::string>> named;  // these string fields, by name (over `strings`)
};

namespace detail {

inline size_t scalar_size(flatbuffers::ElementaryType type) {
  switch (type) {
    case flatbuffers::ET_UTYPE:
    case flatbuffers::ET_BOOL:
    case flatbuffers::ET_CHAR:
    case flatbuffers::ET_UCHAR: return 1;
    case flatbuffers::ET_SHORT:
    case flatbuffers::ET_USHORT: return 2;
    case flatbuffers::ET_INT:
    case flatbuffers::ET_UINT:
    case flatbuffers::ET_FLOAT: return 4;
    case flatbuffers::ET_LONG:
    case flatbuffers::ET_ULONG:
    case flatbuffers::ET_DOUBLE: return 8;
    default: return 0;
  }
}

inline flatbuffers::uoffset_t build_table(flatbuffers::FlatBufferBuilder& b, const flatbuffers::TypeTable* table,
                                          const FieldFill& fill, bool top) {
  std::vector<std::pair<size_t, flatbuffers::uoffset_t>> offsets;
  for (size_t i = 0; i < table->num_elems; ++i) {
    const flatbuffers::TypeCode code = table->type_codes[i];
    const char* name = table->names ? table->names[i] : "";
    const auto type = static_cast<flatbuffers::ElementaryType>(code.base_type);
    std::optional<std::string> text = fill.strings;
    for (const auto& [field, value] : fill.named) {
      if (field == name) text = value;
    }
    if (type == flatbuffers::ET_STRING && text) {
      if (code.is_repeating) {
        offsets.emplace_back(i, b.CreateVectorOfStrings(std::vector<std::string>{*text}).o);
      } else {
        offsets.emplace_back(i, b.CreateString(*text).o);
      }
    } else if (type == flatbuffers::ET_SEQUENCE && !code.is_repeating && code.sequence_ref >= 0) {
      const flatbuffers::TypeTable* nested = table->type_refs[code.sequence_ref]();
      if (nested == proto::KvListTypeTable()) {
        if (fill.kv_lists) offsets.emplace_back(i, proto::KvList::Pack(b, &*fill.kv_lists).o);
      } else if (fill.empty_tables && nested->st == flatbuffers::ST_TABLE && top) {
        offsets.emplace_back(i, build_table(b, nested, FieldFill{}, false));
      }
    }
  }
  const flatbuffers::uoffset_t start = b.StartTable();
  for (const auto& [i, offset] : offsets) {
    b.AddOffset(flatbuffers::FieldIndexToOffset(static_cast<flatbuffers::voffset_t>(i)),
                flatbuffers::Offset<void>(offset));
  }
  for (size_t i = 0; fill.scalars && i < table->num_elems; ++i) {
    const flatbuffers::TypeCode code = table->type_codes[i];
    if (code.is_repeating) continue;
    const auto voffset = flatbuffers::FieldIndexToOffset(static_cast<flatbuffers::voffset_t>(i));
    const uint64_t v = *fill.scalars;
    switch (scalar_size(static_cast<flatbuffers::ElementaryType>(code.base_type))) {
      case 1: b.AddElement<uint8_t>(voffset, static_cast<uint8_t>(v), 0); break;
      case 2: b.AddElement<uint16_t>(voffset, static_cast<uint16_t>(v), 0); break;
      case 4: b.AddElement<uint32_t>(voffset, static_cast<uint32_t>(v), 0); break;
      case 8: b.AddElement<uint64_t>(voffset, v, 0); break;
      default: break;
    }
  }
  return b.EndTable(start);
}

}  // namespace detail

// A complete frame (length header included): an Envelope with ref_id, client_id and a body of
// `type` whose fields are filled as `fill` says. `body_as` builds the body from another type's
// table while the envelope still says `type` (a body of the wrong type).
inline wire::Frame forge_frame(proto::Message type, uint64_t ref_id, uint64_t client_id, const FieldFill& fill,
                               std::optional<proto::Message> body_as = std::nullopt) {
  flatbuffers::FlatBufferBuilder b;
  const flatbuffers::TypeTable* table = body_type_table(body_as.value_or(type));
  const flatbuffers::uoffset_t body = detail::build_table(b, table, fill, true);
  auto envelope = proto::CreateEnvelope(b, ref_id, client_id, type, flatbuffers::Offset<void>(body));
  proto::FinishEnvelopeBuffer(b, envelope);
  wire::Frame frame(wire::kFrameHeaderSize + b.GetSize());
  const uint32_t size = b.GetSize();
  for (size_t i = 0; i < wire::kFrameHeaderSize; ++i) frame[i] = static_cast<uint8_t>(size >> (8 * i));
  std::memcpy(frame.data() + wire::kFrameHeaderSize, b.GetBufferPointer(), size);
  return frame;
}

// Every message type of the schema, read from the union's type table.
inline std::vector<proto::Message> schema_message_types() {
  std::vector<proto::Message> out;
  const flatbuffers::TypeTable* message = proto::MessageTypeTable();
  for (size_t i = 1; i < message->num_elems; ++i) out.push_back(static_cast<proto::Message>(message->values ? message->values[i] : static_cast<int64_t>(i)));
  return out;
}

}  // namespace ix::test
