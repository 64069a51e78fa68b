// A routing table for policy tests: three pairs with different tenants, media and submit flags,
// loaded from configuration text like the real one. No sockets.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "cluster-config/loader.h"
#include "proxy/route/routing_table.h"
#include "tests/support/config_builder.h"

namespace ix::test {

inline std::shared_ptr<const config::ClusterConfig> routing_config(const std::string& extra = "") {
  ConfigBuilder c;
  c.tenant("101").tenant("202").media_type("chat").media_type("email").media_type("sms", false);
  struct Pair {
    const char* id;
    const char* tag;
    std::vector<std::string> tenants, media;
    bool enable_submit;
  };
  const Pair pairs[] = {{"pair-1", "p1", {"101"}, {"chat"}, true},
                        {"pair-2", "p2", {"101", "202"}, {}, true},
                        {"pair-3", "p3", {"101"}, {"chat"}, false}};
  // Nothing listens: the ports only have to be valid and distinct.
  uint16_t port = 7100;
  for (const Pair& p : pairs) {
    const uint16_t primary = ++port, backup = ++port;
    c.node_pair(p.id, p.tag, p.tenants, p.media)
        .set("enable-submit", p.enable_submit)
        .endpoint("primary", primary, static_cast<uint16_t>(primary + 1000))
        .endpoint("backup", backup, static_cast<uint16_t>(backup + 1000))
        .set_in("storage", "sqlite-path", std::string(p.id) + ".db");
  }
  c.raw(extra);
  config::LoadResult loaded = config::load_config_text(c.text(), "routing.toml", "/tmp");
  EXPECT_TRUE(loaded.ok()) << loaded.error_text();
  return loaded.config;
}

}  // namespace ix::test
