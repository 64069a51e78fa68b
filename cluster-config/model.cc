#include "cluster-config/model.h"

#include <algorithm>

namespace ix::config {

namespace {

template <class T, class Key>
const T* find_by(const std::vector<T>& items, Key T::*member, const Key& value) {
  auto it = std::find_if(items.begin(), items.end(), [&](const T& item) { return item.*member == value; });
  return it == items.end() ? nullptr : &*it;
}

}  // namespace

bool NodePair::serves_media(const std::string& media) const {
  return media_types.empty() || std::find(media_types.begin(), media_types.end(), media) != media_types.end();
}

bool NodePair::serves_tenant(const std::string& tenant) const {
  return std::find(tenants.begin(), tenants.end(), tenant) != tenants.end();
}

const NodePair* ClusterConfig::node_pair(const std::string& id) const { return find_by(node_pairs, &NodePair::id, id); }
const NodePair* ClusterConfig::node_pair_by_tag(const std::string& tag) const {
  return find_by(node_pairs, &NodePair::tag, tag);
}
const Proxy* ClusterConfig::proxy(const std::string& id) const { return find_by(proxies, &Proxy::id, id); }
const MediaType* ClusterConfig::media_type(const std::string& media) const {
  return find_by(media_types, &MediaType::name, media);
}

std::string format_duration(Duration d) {
  auto ms = d.count();
  if (ms % 3'600'000 == 0 && ms != 0) return std::to_string(ms / 3'600'000) + "h";
  if (ms % 60'000 == 0 && ms != 0) return std::to_string(ms / 60'000) + "m";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

}  // namespace ix::config
