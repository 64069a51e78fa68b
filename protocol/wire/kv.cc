#include "protocol/wire/kv.h"

namespace ix::wire {

namespace {

// Sets exactly one value field of a native pair.
void assign(proto::KvPairT& pair, const KvScalar& value) {
  pair.int_value = 0;
  pair.string_value.clear();
  pair.binary_value.clear();
  pair.list_value.reset();
  if (const auto* i = std::get_if<int64_t>(&value)) {
    pair.int_value = *i;
  } else if (const auto* s = std::get_if<std::string>(&value)) {
    pair.string_value = *s;
  } else {
    pair.binary_value = std::get<std::vector<uint8_t>>(value);
  }
}

const proto::KvPair* find(const proto::KvList* list, std::string_view key) {
  if (list == nullptr || list->pairs() == nullptr) return nullptr;
  for (const proto::KvPair* pair : *list->pairs()) {
    if (pair->key()->string_view() == key) return pair;
  }
  return nullptr;
}

proto::KvPairT& find_or_add(proto::KvListT& list, const std::string& key) {
  for (auto& pair : list.pairs) {
    if (pair->key == key) return *pair;
  }
  list.pairs.push_back(std::make_unique<proto::KvPairT>());
  list.pairs.back()->key = key;
  return *list.pairs.back();
}

}  // namespace

KvKind kv_kind(const proto::KvPair& pair) {
  if (pair.string_value() != nullptr) return KvKind::kString;
  if (pair.binary_value() != nullptr) return KvKind::kBinary;
  if (pair.list_value() != nullptr) return KvKind::kList;
  return KvKind::kInt;
}

std::unique_ptr<proto::KvListT> kv_list(std::initializer_list<KvEntry> entries) {
  auto list = std::make_unique<proto::KvListT>();
  for (const KvEntry& entry : entries) kv_set(*list, entry);
  return list;
}

void kv_set(proto::KvListT& list, const KvEntry& entry) { assign(find_or_add(list, entry.key), entry.value); }

void kv_set_list(proto::KvListT& list, const std::string& key, std::unique_ptr<proto::KvListT> nested) {
  proto::KvPairT& pair = find_or_add(list, key);
  assign(pair, int64_t{0});
  pair.list_value = std::move(nested);
}

std::optional<int64_t> kv_int(const proto::KvList* list, std::string_view key) {
  const proto::KvPair* pair = find(list, key);
  if (pair == nullptr || kv_kind(*pair) != KvKind::kInt) return std::nullopt;
  return pair->int_value();
}

std::optional<std::string_view> kv_string(const proto::KvList* list, std::string_view key) {
  const proto::KvPair* pair = find(list, key);
  if (pair == nullptr || kv_kind(*pair) != KvKind::kString) return std::nullopt;
  return pair->string_value()->string_view();
}

std::optional<std::span<const uint8_t>> kv_binary(const proto::KvList* list, std::string_view key) {
  const proto::KvPair* pair = find(list, key);
  if (pair == nullptr || kv_kind(*pair) != KvKind::kBinary) return std::nullopt;
  return std::span<const uint8_t>(pair->binary_value()->data(), pair->binary_value()->size());
}

const proto::KvList* kv_nested(const proto::KvList* list, std::string_view key) {
  const proto::KvPair* pair = find(list, key);
  if (pair == nullptr || kv_kind(*pair) != KvKind::kList) return nullptr;
  return pair->list_value();
}

}  // namespace ix::wire
