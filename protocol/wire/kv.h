// Key-value lists (user data, extensions, properties, reasons) without hand-built unions.
//
// Writing: kv_list({{"Subject", "hello"}, {"Score", 7}}) or kv_set(list, key, value).
// Reading: kv_int / kv_string / kv_binary / kv_nested look a key up in a verified KvList and
// return nullopt (or nullptr) when it is absent or holds another type.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "protocol/wire/ixcluster_generated.h"

namespace ix::wire {

using KvScalar = std::variant<int64_t, std::string, std::vector<uint8_t>>;

struct KvEntry {
  KvEntry(std::string k, int64_t v) : key(std::move(k)), value(v) {}
  KvEntry(std::string k, int v) : key(std::move(k)), value(int64_t{v}) {}
  KvEntry(std::string k, std::string v) : key(std::move(k)), value(std::move(v)) {}
  KvEntry(std::string k, const char* v) : key(std::move(k)), value(std::string(v)) {}
  KvEntry(std::string k, std::vector<uint8_t> v) : key(std::move(k)), value(std::move(v)) {}
  std::string key;
  KvScalar value;
};

// Which value a pair holds (see the schema: string, binary, list, else integer).
enum class KvKind { kInt, kString, kBinary, kList };
KvKind kv_kind(const proto::KvPair& pair);

std::unique_ptr<proto::KvListT> kv_list(std::initializer_list<KvEntry> entries);
// Sets key to value, replacing an existing pair with the same key.
void kv_set(proto::KvListT& list, const KvEntry& entry);
void kv_set_list(proto::KvListT& list, const std::string& key, std::unique_ptr<proto::KvListT> nested);

std::optional<int64_t> kv_int(const proto::KvList* list, std::string_view key);
std::optional<std::string_view> kv_string(const proto::KvList* list, std::string_view key);
std::optional<std::span<const uint8_t>> kv_binary(const proto::KvList* list, std::string_view key);
const proto::KvList* kv_nested(const proto::KvList* list, std::string_view key);

}  // namespace ix::wire
