#include "node/store/store_factory.h"

#include "node/store/sqlite_store.h"

namespace ix::node {

Result<std::unique_ptr<Store>> make_store(uv_loop_t* loop, const config::NodePair& pair, StoreOptions options) {
  if (pair.storage.sqlite_path.empty()) {
    return Error{0, "node pair " + pair.id + " has no sqlite-path (PostgreSQL storage is not built yet)"};
  }
  auto store = SqliteStore::open(loop, {pair.storage.sqlite_path, true, options.group_commit, 10'000});
  if (!store) return store.error();
  return std::unique_ptr<Store>(std::move(store.value()));
}

}  // namespace ix::node
