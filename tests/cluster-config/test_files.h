// Pieces of configuration files shared by the cluster-config tests.
#pragma once

#include <string>

#include "tests/support/config_builder.h"

namespace ix::config::test {

// One [[node-pairs]] entry on 127.0.0.1 with its primary on `port` (admin port + 2000) and its
// backup on port + 1, stored in "<id>.db" unless storage says otherwise.
inline std::string node_pair_toml(const std::string& id, const std::string& tag_line, int port,
                                  const std::string& tenants = "[\"101\"]",
                                  const std::string& storage = "") {
  const auto at = [](int p) { return static_cast<uint16_t>(p); };
  ix::test::TomlEntry pair("node-pairs");
  pair.set("id", id)
      .raw_line(tag_line)
      .set("tenants", ix::test::TomlValue::raw(tenants))
      .endpoint("primary", at(port), at(port + 2000))
      .endpoint("backup", at(port + 1), at(port + 2001))
      .set_in("storage", "sqlite-path", storage.empty() ? id + ".db" : storage);
  return pair.text();
}

}  // namespace ix::config::test
