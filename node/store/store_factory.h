// make_store(): the Store a node pair's configuration asks for. The node holds a Store built
// here and knows no implementation; tests build a MemoryStore directly instead.
// Called on the loop thread that will receive the store's completions.
#pragma once

#include <uv.h>

#include <memory>

#include "cluster-config/model.h"
#include "node/store/store.h"

namespace ix::node {

struct StoreOptions {
  bool group_commit = true;  // false commits every transaction alone (a benchmark baseline)
};

// Opens the pair's database: PostgreSQL when storage.postgresql is set (the password, if any,
// from the variable named by postgresql-password-env; a password inside the connection string is
// refused; keepalives notice a dead database host within the pair's lease-timeout), otherwise
// SQLite at storage.sqlite-path.
Result<std::unique_ptr<Store>> make_store(uv_loop_t* loop, const config::NodePair& pair, StoreOptions options);

}  // namespace ix::node
