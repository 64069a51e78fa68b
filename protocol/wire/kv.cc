#include "protocol/wire/kv.h"

namespace ix::wire {

namespace {

proto::KvValueUnion to_union(const KvScalar& value) {
  proto::KvValueUnion u;
  if (const auto* i = std::get_if<int64_t>(&value)) {
    proto::IntValueT v;
    v.value = *i;
    u.Set(std::move(v));
  } else if (const auto* s = std::get_if<std::string>(&value)) {
    proto::StringValueT v;
    v.value = *s;
    u.Set(std::move(v));
  } else {
    proto::BinaryValueT v;
    v.value = std::get<std::vector<uint8_t>>(value);
    u.Set(std::move(v));
  }
  return u;
}

const proto::KvPair* find(const proto::KvList* list, std::string_view key) {
  if (list == nullptr || list->pairs() == nullptr) return nullptr;
  for (const proto::KvPair* pair : *list->pairs()) {
    if (pair->key()->string_view() == key) return pair;
  }
  return nullptr;
}

proto::KvPairT* find_native(proto::KvListT& list, std::string_view key) {
  for (auto& pair : list.pairs) {
    if (pair->key == key) return pair.get();
  }
  return nullptr;
}

}  // namespace

std::unique_ptr<proto::KvListT> kv_list(std::initializer_list<KvEntry> entries) {
  auto list = std::make_unique<proto::KvListT>();
  for (const KvEntry& entry : entries) kv_set(*list, entry);
  return list;
}

void kv_set(proto::KvListT& list, const KvEntry& entry) {
  if (proto::KvPairT* existing = find_native(list, entry.key)) {
    existing->value = to_union(entry.value);
    return;
  }
  auto pair = std::make_unique<proto::KvPairT>();
  pair->key = entry.key;
  pair->value = to_union(entry.value);
  list.pairs.push_back(std::move(pair));
}

void kv_set_list(proto::KvListT& list, std::string key, std::unique_ptr<proto::KvListT> nested) {
  proto::KvValueUnion u;
  u.Set(std::move(*nested));
  if (proto::KvPairT* existing = find_native(list, key)) {
    existing->value = std::move(u);
    return;
  }
  auto pair = std::make_unique<proto::KvPairT>();
  pair->key = std::move(key);
  pair->value = std::move(u);
  list.pairs.push_back(std::move(pair));
}

std::optional<int64_t> kv_int(const proto::KvList* list, std::string_view key) {
  const proto::KvPair* pair = find(list, key);
  if (pair == nullptr || pair->value_as_IntValue() == nullptr) return std::nullopt;
  return pair->value_as_IntValue()->value();
}

std::optional<std::string_view> kv_string(const proto::KvList* list, std::string_view key) {
  const proto::KvPair* pair = find(list, key);
  if (pair == nullptr || pair->value_as_StringValue() == nullptr) return std::nullopt;
  const flatbuffers::String* s = pair->value_as_StringValue()->value();
  return s == nullptr ? std::string_view() : s->string_view();
}

std::optional<std::span<const uint8_t>> kv_binary(const proto::KvList* list, std::string_view key) {
  const proto::KvPair* pair = find(list, key);
  if (pair == nullptr || pair->value_as_BinaryValue() == nullptr) return std::nullopt;
  const auto* bytes = pair->value_as_BinaryValue()->value();
  if (bytes == nullptr) return std::span<const uint8_t>();
  return std::span<const uint8_t>(bytes->data(), bytes->size());
}

const proto::KvList* kv_nested(const proto::KvList* list, std::string_view key) {
  const proto::KvPair* pair = find(list, key);
  return pair == nullptr ? nullptr : pair->value_as_KvList();
}

}  // namespace ix::wire
