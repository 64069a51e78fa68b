// A routing table for policy tests: three pairs with different tenants, media and submit flags,
// loaded from configuration text like the real one. No sockets.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "cluster-config/loader.h"
#include "proxy/route/routing_table.h"

namespace ix::test {

inline std::shared_ptr<const config::ClusterConfig> routing_config(const std::string& extra = "") {
  std::string text = R"(
[[tenants]]
id = "101"
[[tenants]]
id = "202"
[[media-types]]
name = "chat"
[[media-types]]
name = "email"
[[media-types]]
name = "sms"
enabled = false
)";
  const char* pairs[][5] = {{"pair-1", "p1", R"(["101"])", R"(["chat"])", "true"},
                            {"pair-2", "p2", R"(["101", "202"])", "[]", "true"},
                            {"pair-3", "p3", R"(["101"])", R"(["chat"])", "false"}};
  int port = 7100;
  for (auto& p : pairs) {
    const int primary = ++port, backup = ++port;
    text += "[[node-pairs]]\nid = \"" + std::string(p[0]) + "\"\ntag = \"" + p[1] + "\"\ntenants = " + p[2] +
            "\nmedia-types = " + p[3] + "\nenable-submit = " + p[4] + "\n[node-pairs.primary]\nhost = \"127.0.0.1\"\nadmin-port = " + std::to_string(primary + 1000) + "\nport = " +
            std::to_string(primary) + "\n[node-pairs.backup]\nhost = \"127.0.0.1\"\nadmin-port = " + std::to_string(backup + 1000) + "\nport = " + std::to_string(backup) +
            "\n[node-pairs.storage]\nsqlite-path = \"" + p[0] + ".db\"\n";
  }
  text += extra;
  config::LoadResult loaded = config::load_config_text(text, "routing.toml", "/tmp");
  EXPECT_TRUE(loaded.ok()) << loaded.error_text();
  return loaded.config;
}

}  // namespace ix::test
