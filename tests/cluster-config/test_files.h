// Pieces of configuration files shared by the cluster-config tests.
#pragma once

#include <string>

namespace ix::config::test {

// One [[node-pairs]] entry on 127.0.0.1 with its primary on `port` (admin port + 2000) and its
// backup on port + 1, stored in "<id>.db" unless storage says otherwise.
inline std::string node_pair_toml(const std::string& id, const std::string& tag_line, int port,
                                  const std::string& tenants = "[\"101\"]",
                                  const std::string& storage = "") {
  return "\n[[node-pairs]]\nid = \"" + id + "\"\n" + tag_line + "\ntenants = " + tenants +
         "\n\n[node-pairs.primary]\nhost = \"127.0.0.1\"\nport = " + std::to_string(port) +
         "\nadmin-port = " + std::to_string(port + 2000) +
         "\n\n[node-pairs.backup]\nhost = \"127.0.0.1\"\nport = " + std::to_string(port + 1) +
         "\nadmin-port = " + std::to_string(port + 2001) + "\n\n[node-pairs.storage]\nsqlite-path = \"" +
         (storage.empty() ? id + ".db" : storage) + "\"\n";
}

}  // namespace ix::config::test
